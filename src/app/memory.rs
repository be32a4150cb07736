//! Keep glibc from holding on to freed zone memory.
//!
//! glibc's malloc serves blocks above its mmap threshold with `mmap` and
//! gives them back on `free`; but the threshold is dynamic: each time a
//! block of up to 32 MiB that was mmapped is freed, the threshold rises to
//! its size (and the trim threshold to twice that). After one load of a
//! large zone every later block below 32 MiB comes from malloc's heaps,
//! whose free space is almost never returned. Measured with a
//! 1,000,000-record zone (docs/PERFORMANCE.md): 100 MB after loading,
//! 157 MB after one SIGHUP, 215 MB after two; with the threshold fixed at
//! glibc's own default, 66.6 MB after loading and 66.8 MB after any
//! number of reloads.
//!
//! glibc reads a fixed threshold only from the `GLIBC_TUNABLES`
//! environment variable at start-up (calling `mallopt` needs `unsafe`,
//! which the crate forbids). So, on glibc, the process re-executes itself
//! once, first thing, with `glibc.malloc.mmap_threshold=131072` added; an
//! operator who sets that tunable themselves is left alone. If the
//! re-execution fails, dnslb runs on with glibc's defaults.
//!
//! Rejected: jemalloc (tikv-jemallocator) as the global allocator returns
//! memory on its own, but adds a C build of minutes and still held 74 MB
//! after two reloads; mimalloc needs an option set through `unsafe` or the
//! environment to give memory back at all (156 MB after loading with its
//! defaults).

/// The tunable and the value set: glibc's initial threshold, 128 KiB.
const TUNABLE: &str = "glibc.malloc.mmap_threshold";
const VALUE: &str = "131072";

/// On glibc, re-execute the current program with the mmap threshold fixed
/// (see the module doc) unless `GLIBC_TUNABLES` already sets it. Returns
/// only when nothing was done or `exec` failed. Call before any thread
/// starts.
pub(super) fn fix_malloc_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;

        let current = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
        let text = current.to_string_lossy();
        if text
            .split(':')
            .any(|t| t.starts_with(&format!("{TUNABLE}=")))
        {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        let mut tunables = current.clone();
        if !tunables.is_empty() {
            tunables.push(":");
        }
        tunables.push(format!("{TUNABLE}={VALUE}"));
        // Only returns on failure; then run on as we are.
        let _ = std::process::Command::new(&exe)
            .arg0(arg0)
            .args(args)
            .env("GLIBC_TUNABLES", tunables)
            .exec();
    }
}
