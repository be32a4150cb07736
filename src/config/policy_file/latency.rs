//! `[latency]`: what the file's latency names estimate with: the latency
//! table it names (`config::latency_table`) and the distance model's path
//! factor. Read once per policy file, shared by its latency names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::parse::Cx;
use super::spec::LatencySpec;
use crate::config::latency_table::load_latency_table;
use crate::config::values::float_in;
use crate::geoip::CustomNets;
use crate::policy::latency::{DistanceModel, LatencyTable};

/// Accepted `path_factor`.
pub(super) const PATH_FACTOR: std::ops::RangeInclusive<f64> = 1.0..=5.0;

/// The compiled `[latency]` of one policy file.
#[derive(Debug, Default)]
pub(super) struct LatencySection {
    pub(super) table: Option<Arc<LatencyTable>>,
    pub(super) model: DistanceModel,
}

/// `[latency]` → the table and model; no `[latency]`: no table, the
/// default model. `None` after reporting an error (then the file's
/// latency names are not compiled against a broken table). The table
/// file's path goes to `named`, read or not, so the watcher follows it.
/// `pools` are the file's pool names, `nets` its custom networks (`None`
/// when its `[geo]` is broken).
pub(super) fn compile_section(
    cx: &mut Cx<'_>,
    spec: Option<Option<&LatencySpec>>,
    pools: &[&str],
    nets: Option<&CustomNets>,
    named: &mut Vec<PathBuf>,
) -> Option<LatencySection> {
    let spec = match spec {
        None => return Some(LatencySection::default()),
        Some(s) => s?,
    };
    let LatencySpec {
        at: _,
        table,
        path_factor,
        bad,
    } = spec;
    let before = cx.diags.len();
    let model = match path_factor {
        None => Some(DistanceModel::default()),
        Some(p) => cx
            .check(
                p.span().start,
                "latency.path_factor",
                float_in(*p.get_ref(), PATH_FACTOR, ""),
            )
            .map(|path_factor| DistanceModel { path_factor }),
    };
    let table = match table {
        None => Some(None),
        Some(t) => {
            let path = cx.path.parent().unwrap_or(Path::new(".")).join(t.get_ref());
            named.push(path.clone());
            load_latency_table(cx, t.span().start, "latency.table", &path, pools, nets).map(Some)
        }
    };
    if cx.diags.len() != before || bad.any() {
        return None;
    }
    Some(LatencySection {
        table: table?,
        model: model?,
    })
}
