#!/usr/bin/env bash
# Fetch third-party zone files for the differential test
# (tests/integration/zonefile.rs) from the package registries, with their
# ordinary clients, into DIR, and write DIR/manifest.tsv: FILE<TAB>ORIGIN.
# Versions are pinned so the corpus is the same in every run. Not committed.
#   dnspython 2.9.2 (PyPI sdist): tests/example and tests/example{1..4}.good
#   dns-zonefile 0.3.2, zone-file 1.0.0 (npm): their test zone files
set -euo pipefail
dir=${1:?usage: fetch-third-party.sh DIR}
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
manifest=$tmp/manifest.tsv
: >"$manifest"

# --no-binary for dnspython only: its build backend comes as a wheel.
python3 -m pip download --quiet --no-deps --no-binary dnspython dnspython==2.9.2 -d "$tmp/pypi"
tar -xzf "$tmp"/pypi/dnspython-2.9.2.tar.gz -C "$tmp"
for f in example example1.good example2.good example3.good example4.good; do
  cp "$tmp/dnspython-2.9.2/tests/$f" "$dir/dnspython-$f"
  printf 'dnspython-%s\texample.\n' "$f" >>"$manifest"
done

(cd "$tmp" && npm pack --silent dns-zonefile@0.3.2 zone-file@1.0.0 >/dev/null)
for pkg in dns-zonefile-0.3.2 zone-file-1.0.0; do
  mkdir -p "$tmp/$pkg"
  tar -xzf "$tmp/$pkg.tgz" -C "$tmp/$pkg"
  for f in "$tmp/$pkg"/package/tests/*.txt "$tmp/$pkg"/package/testData/*.txt; do
    [ -e "$f" ] || continue
    name="$pkg-$(basename "$f")"
    cp "$f" "$dir/$name"
    # These files name their zone in their first $ORIGIN line.
    origin=$(awk 'toupper($1) == "$ORIGIN" { print $2; exit }' "$f")
    printf '%s\t%s\n' "$name" "${origin:-example.}" >>"$manifest"
  done
done
mv "$manifest" "$dir/manifest.tsv"
echo "fetched $(wc -l <"$dir/manifest.tsv") third-party zone files into $dir"
