//! Where a name lands in the zones: the one home of the zone rules.
//!
//! [`ZoneSet::locate`] walks a name down from the most specific zone's apex
//! and says what the data there is: a node, a wildcard standing in for a
//! missing name (RFC 4592), a delegation (RFC 1034 §4.3.2 step 3b) or
//! nothing (NXDOMAIN). Empty non-terminals are ordinary nodes without
//! records (they answer NODATA). DS queries are answered by the parent side
//! of a cut (RFC 4035 §3.1.4.1). The engine only encodes what `locate`
//! found (the shape of NLnetLabs/domain's `ReadableZone::query`).
//!
//! [`Zone::attach_balanced`] uses the same walk to decide where a
//! load-balanced name may live, so "below a delegation" means the same
//! thing when loading as when answering.

use hickory_proto::rr::Name;

use super::name::{display, label_offsets, to_wire_lower};
use super::{Node, Zone, ZoneSet, rtype};

/// What [`ZoneSet::locate`] found for a name.
#[derive(Debug, Clone, Copy)]
pub enum Found<'s> {
    /// The name exists (possibly as an empty non-terminal).
    Node(&'s Zone, Node<'s>),
    /// The name does not exist; the wildcard at its closest encloser
    /// answers in its place (RFC 4592 §3.3.1).
    Wildcard(&'s Zone, Node<'s>),
    /// The name is at or below a delegation: the cut's owner (lowercase
    /// wire, borrowed from the zone) and its node, which holds the NS set.
    Referral(&'s Zone, &'s [u8], Node<'s>),
    /// The name does not exist and no wildcard covers it.
    NxDomain(&'s Zone),
}

impl ZoneSet {
    /// Where `name` (lowercase wire, `offs` its [`label_offsets`]) lands;
    /// `None` when no zone of ours contains it. `ds` asks for the parent
    /// side of a cut: a DS query for a delegated child is answered by the
    /// parent, when we serve both.
    #[inline]
    pub fn locate(&self, name: &[u8], offs: &[u8], ds: bool) -> Option<Found<'_>> {
        let (mut zone, mut apex_k) = self.find(name, offs)?;
        if ds && apex_k == 0 && offs.len() > 1 {
            // Only when the parent really delegates here; a child zone the
            // parent does not delegate to answers its own DS (NODATA).
            if let Some((pz, pk)) = self.find(name, &offs[1..])
                && pz.node(name).is_some_and(|n| n.cut())
            {
                zone = pz;
                apex_k = pk + 1;
            }
        }
        Some(zone.locate(name, offs, apex_k, ds))
    }
}

impl Zone {
    /// Walk `name` down from this zone's apex, which starts at label
    /// `apex_k` of `offs`. With `ds`, a cut at the name itself is not a
    /// referral (the parent holds the DS).
    #[inline(always)]
    pub fn locate(&self, name: &[u8], offs: &[u8], apex_k: usize, ds: bool) -> Found<'_> {
        let mut node = self.apex();
        let mut k = apex_k;
        while k > 0 {
            k -= 1;
            let suffix = &name[offs[k] as usize..];
            match self.node(suffix) {
                Some(n) => {
                    node = n;
                    if n.cut() && !(k == 0 && ds) {
                        return Found::Referral(self, n.name(), n);
                    }
                }
                None => {
                    // The previous label's node is the closest encloser;
                    // try its wildcard. The key is built only on this path.
                    let ce = &name[offs[k + 1] as usize..];
                    let mut wild = [0u8; 2 + super::name::MAX_NAME_LEN];
                    wild[0] = 1;
                    wild[1] = b'*';
                    wild[2..2 + ce.len()].copy_from_slice(ce);
                    return match self.node(&wild[..2 + ce.len()]) {
                        Some(wn) => Found::Wildcard(self, wn),
                        None => Found::NxDomain(self),
                    };
                }
            }
        }
        Found::Node(self, node)
    }

    /// Make `name` a load-balanced name answered by `lb` (an index into
    /// the snapshot's names). The name must be in this zone, not at or
    /// below a delegation, and must not have A, AAAA or CNAME records of
    /// its own: its addresses come from the policy only. A missing name is
    /// created (with its empty non-terminals).
    pub fn attach_balanced(&mut self, name: &Name, lb: u32) -> Result<(), AttachError> {
        self.check_balanced(name)?;
        self.set_lb(&to_wire_lower(name), lb);
        Ok(())
    }

    /// The rules of [`Zone::attach_balanced`] without attaching: for a
    /// name whose policy has errors of its own, so its clash with the zone
    /// file is reported in the same run.
    pub fn check_balanced(&self, name: &Name) -> Result<(), AttachError> {
        if !self.origin.zone_of(name) {
            return Err(AttachError::OutsideZone {
                zone: self.origin.to_ascii(),
            });
        }
        let wire = to_wire_lower(name);
        let mut offs = [0u8; 128];
        let n = label_offsets(&wire, &mut offs);
        let origin_labels = label_offsets(&self.origin_wire, &mut [0u8; 128]);
        let apex_k = n - origin_labels;
        match self.locate(&wire, &offs[..n], apex_k, false) {
            Found::Referral(_, cut, _) => {
                return Err(AttachError::BelowCut { cut: display(cut) });
            }
            Found::Node(_, node) => {
                let types: Vec<&'static str> = [
                    (rtype::A, "A"),
                    (rtype::AAAA, "AAAA"),
                    (rtype::CNAME, "CNAME"),
                ]
                .into_iter()
                .filter(|&(t, _)| node.rrset(t).is_some())
                .map(|(_, what)| what)
                .collect();
                if !types.is_empty() {
                    return Err(AttachError::HasAddresses { types });
                }
            }
            Found::Wildcard(..) | Found::NxDomain(_) => {}
        }
        Ok(())
    }
}

/// Why a load-balanced name cannot be attached to a zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error("outside the zone {zone}")]
    OutsideZone { zone: String },
    /// The parent does not answer at or below a cut (RFC 1034 §4.2.1).
    #[error("at or below the delegation {cut}")]
    BelowCut { cut: String },
    /// The name has these record types in the zone file.
    #[error("has {} records in the zone file", types.join(", "))]
    HasAddresses { types: Vec<&'static str> },
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::diag::Diagnostics;
    use crate::zone::{LoadOptions, load_zone_file};

    const ZONE: &str = "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n\
        a.b A 192.0.2.2\n*.w A 192.0.2.3\nsub NS ns.sub\nns.sub A 192.0.2.4\n";

    fn zones() -> ZoneSet {
        let origin = Name::from_ascii("t.test.").unwrap();
        let opts = LoadOptions {
            include_root: None,
            ..LoadOptions::default()
        };
        let mut d = Diagnostics::new();
        let z = load_zone_file(Path::new("t.zone"), ZONE, &origin, &opts, &mut d);
        ZoneSet::new(vec![z.unwrap_or_else(|| panic!("{d}"))])
    }

    fn what(zs: &ZoneSet, name: &str, ds: bool) -> String {
        let wire = to_wire_lower(&Name::from_ascii(name).unwrap());
        let mut offs = [0u8; 128];
        let n = label_offsets(&wire, &mut offs);
        match zs.locate(&wire, &offs[..n], ds) {
            None => "refused".into(),
            Some(Found::Node(_, n)) if !n.has_records() => "empty".into(),
            Some(Found::Node(..)) => "node".into(),
            Some(Found::Wildcard(..)) => "wildcard".into(),
            Some(Found::Referral(_, cut, _)) => format!("referral {}", display(cut)),
            Some(Found::NxDomain(_)) => "nxdomain".into(),
        }
    }

    #[test]
    fn locate_table() {
        let zs = zones();
        for (name, ds, want) in [
            ("t.test.", false, "node"),
            ("A.B.t.test.", false, "node"),
            ("b.t.test.", false, "empty"),
            ("x.t.test.", false, "nxdomain"),
            ("x.w.t.test.", false, "wildcard"),
            ("y.x.w.t.test.", false, "wildcard"),
            ("sub.t.test.", false, "referral sub.t.test."),
            ("ns.sub.t.test.", false, "referral sub.t.test."),
            ("sub.t.test.", true, "node"),
            ("deep.ns.sub.t.test.", true, "referral sub.t.test."),
            ("other.test.", false, "refused"),
        ] {
            assert_eq!(what(&zs, name, ds), want, "{name} ds={ds}");
        }
    }

    #[test]
    fn attach_uses_the_same_rules() {
        let mut z = zones().zones()[0].clone();
        let name = |s: &str| Name::from_ascii(s).unwrap();
        assert_eq!(z.attach_balanced(&name("lb.x.t.test."), 0), Ok(()));
        let wire = to_wire_lower(&name("x.t.test."));
        assert!(z.node(&wire).is_some_and(|n| n.is_empty()), "ENT created");
        assert_eq!(z.attach_balanced(&name("v.w.t.test."), 1), Ok(()));
        assert_eq!(
            z.attach_balanced(&name("a.b.t.test."), 2),
            Err(AttachError::HasAddresses { types: vec!["A"] })
        );
        assert_eq!(
            z.attach_balanced(&name("x.sub.t.test."), 2),
            Err(AttachError::BelowCut {
                cut: "sub.t.test.".into()
            })
        );
        assert_eq!(
            z.attach_balanced(&name("www.other.test."), 2),
            Err(AttachError::OutsideZone {
                zone: "t.test.".into()
            })
        );
        assert_eq!(
            z.attach_balanced(&name("t.test."), 3),
            Ok(()),
            "the apex may be load-balanced"
        );
    }
}
