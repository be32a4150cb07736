//! GeoIP database access for the geolocation policy.
