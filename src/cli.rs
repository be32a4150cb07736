//! Command line: `serve` (the default), `check`, `explain`, `geoip`, `zone`,
//! and the admin API clients `status`, `drain`, `undrain`, `force`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "dnslb",
    version,
    about = "Authoritative DNS server that load-balances names across healthy endpoints"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve`'s options, accepted without the word `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the zones (the default when no command is given).
    Serve(ServeArgs),
    /// Load and validate the config, zones and policy files; print every
    /// error as FILE:LINE: message; exit 1 on error, 0 when clean.
    Check(ConfigArg),
    /// Show, without touching the network, what a query would be answered
    /// and why.
    Explain(ExplainArgs),
    /// GeoIP databases: build dnslb's own from a readable source, or show
    /// where a database places an address.
    #[command(subcommand)]
    Geoip(GeoipCommand),
    /// Zone file tools.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Ask the running server (admin API) for its names, pools, endpoints,
    /// health and overrides.
    Status(StatusArgs),
    /// Drain ENDPOINT on the running server: no new answers unless nothing
    /// else is available. Same as `force ENDPOINT drain`.
    Drain(EndpointArgs),
    /// Remove the override of ENDPOINT (back to its policy file state and
    /// health checks). Same as `force ENDPOINT auto`.
    Undrain(EndpointArgs),
    /// Force ENDPOINT up, down or drain on the running server, or back to
    /// auto. Kept across reloads and (with admin_state_file) restarts.
    Force(ForceArgs),
}

/// How to reach the admin API of a running server.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct AdminArgs {
    /// Admin API URL (default: DNSLB_ADMIN_URL, else the admin_listen of
    /// --config, else http://127.0.0.1:8053).
    #[arg(long, value_name = "URL")]
    pub admin: Option<String>,
    /// Bearer token (default: DNSLB_ADMIN_TOKEN, else the config's).
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// File holding the bearer token.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Server config file to take admin_listen and the token from.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Print the /status JSON as it came.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    /// An address, or a pool member's name: MEMBER, POOL/MEMBER or
    /// ZONE/POOL/MEMBER.
    pub endpoint: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ForceArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    /// An address, or a pool member's name: MEMBER, POOL/MEMBER or
    /// ZONE/POOL/MEMBER.
    pub endpoint: String,
    /// The state to force.
    #[arg(value_parser = ["up", "down", "drain", "auto"])]
    pub state: String,
}

#[derive(Debug, Subcommand)]
pub enum GeoipCommand {
    /// Write a MaxMind DB (.mmdb) from a TOML source (format:
    /// geoip/example.source.toml); errors print as FILE:LINE:COL.
    Build {
        /// The TOML source.
        source: PathBuf,
        /// The .mmdb to write (replaced atomically).
        out: PathBuf,
    },
    /// Print the location and network prefix a GeoIP database gives an
    /// address; exit 1 when it has no location for it.
    Lookup {
        /// IPv4 or IPv6 address (IPv4-mapped IPv6 counts as IPv4).
        ip: IpAddr,
        /// The database. Default: the config's `geoip_database`, else
        /// geoip/example.mmdb.
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum ZoneCommand {
    /// Print what dnslb loads from a zone file, one RR per line in
    /// canonical presentation form (as `named-compilezone -s full`);
    /// warnings and errors go to stderr as FILE:LINE: message; exit 1 on
    /// error.
    Dump(ZoneDumpArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ZoneDumpArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// A zone file, or the origin of a zone in the configured zones
    /// directory (`example.test` reads ZONES_DIR/example.test.zone).
    #[arg(value_name = "FILE|ORIGIN")]
    pub zone: String,
    /// The origin of FILE (default: its file name without `.zone`).
    #[arg(long, value_name = "NAME")]
    pub origin: Option<String>,
}

#[derive(Debug, Clone, clap::Args, Default)]
pub struct ConfigArg {
    /// Server config file (TOML). Without it, built-in defaults: zones/ on
    /// 127.0.0.1:5353.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// Our own UDP/TCP listeners (the default and the fast path).
    #[default]
    Native,
    /// hickory-server's `Server` with our RequestHandler (reference path).
    Hickory,
}

#[derive(Debug, Clone, clap::Args, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Address to listen on, UDP and TCP (repeatable; replaces the config's
    /// `listen`). Port 0 picks a free port; the bound address is logged.
    #[arg(long, short = 'l', value_name = "ADDR:PORT")]
    pub listen: Vec<SocketAddr>,
    /// Which listener implementation answers.
    #[arg(long, value_enum, default_value_t = Engine::Native)]
    pub engine: Engine,
    /// Admin API address (replaces the config's `admin_listen`); "" turns
    /// it off. Port 0 picks a free port; the bound address is logged.
    #[arg(long, value_name = "ADDR:PORT")]
    pub admin_listen: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The name to explain (relative names are not accepted: give the FQDN).
    pub name: String,
    /// Query type: a type name (any case) or TYPEnnn (RFC 3597).
    #[arg(default_value = "A")]
    pub qtype: String,
    /// The resolver address the query would come from.
    #[arg(long, value_name = "IP")]
    pub client: IpAddr,
    /// An EDNS Client Subnet, e.g. 198.51.100.0/24.
    #[arg(long, value_name = "PREFIX")]
    pub ecs: Option<ipnet::IpNet>,
    /// Ask the running server (its admin API) instead of loading the files:
    /// its snapshot, with the health and overrides it acts on now.
    #[arg(long)]
    pub live: bool,
    /// With --live: admin API URL (default: DNSLB_ADMIN_URL, else the
    /// admin_listen of --config, else http://127.0.0.1:8053).
    #[arg(long, value_name = "URL", requires = "live")]
    pub admin: Option<String>,
    /// With --live: bearer token (default: DNSLB_ADMIN_TOKEN, else the config's).
    #[arg(
        long,
        value_name = "TOKEN",
        requires = "live",
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// With --live: file holding the bearer token.
    #[arg(long, value_name = "FILE", requires = "live")]
    pub token_file: Option<std::path::PathBuf>,
}
