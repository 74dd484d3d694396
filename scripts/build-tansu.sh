#!/usr/bin/env bash
# Builds tansu $TANSU_VERSION with our patches (scripts/tansu/*.patch, in
# name order) into $TANSU_ROOT.
#
# group-eviction: in tansu 0.6.0 a member that dies without leaving (SIGKILL)
# is dropped by the heartbeat path without resetting the group, so the
# survivors keep their old assignment forever and the dead member's
# partitions are never consumed again. The patch runs the group-level
# expiry before the heartbeat (as join/sync/leave already do) and bumps the
# generation when members are evicted, so survivors rebalance. Apache Kafka
# behaves this way; nothing in the service depends on the patch.
#
# join-pause: a rejoining follower sleeps a fixed 3 s before joining, which
# adds 3 s to every failover; TANSU_GROUP_JOIN_PAUSE_MS sets it.
#
# The crates come from crates.io (cargo's own download), are unpacked into
# a scratch directory, patched, and installed with tansu's shipped
# Cargo.lock (only tansu-broker's entry changes to the local path).
source "$(dirname "$0")/common.sh"

shopt -s nullglob
PATCHES=("$PROJECT_DIR/scripts/tansu/tansu-broker-$TANSU_VERSION-"*.patch)
[ ${#PATCHES[@]} -gt 0 ] || die "missing scripts/tansu/tansu-broker-$TANSU_VERSION-*.patch"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Let cargo download the two crates (into its registry cache).
mkdir -p "$work/fetch/src"
cat > "$work/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-tansu"
version = "0.0.0"
edition = "2021"
[dependencies]
tansu = "=$TANSU_VERSION"
tansu-broker = "=$TANSU_VERSION"
TOML
touch "$work/fetch/src/lib.rs"
(cd "$work/fetch" && cargo fetch -q)
cache=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/index.crates.io-*/ | head -1)
for crate in tansu tansu-broker; do
  tar -xzf "$cache/$crate-$TANSU_VERSION.crate" -C "$work"
done
for p in "${PATCHES[@]}"; do
  patch -s -d "$work/tansu-broker-$TANSU_VERSION" -p1 < "$p"
done
printf '\n[patch.crates-io]\ntansu-broker = { path = "../tansu-broker-%s" }\n' "$TANSU_VERSION" \
  >> "$work/tansu-$TANSU_VERSION/Cargo.toml"
# Rewrites only tansu-broker's lock entry (registry -> path).
(cd "$work/tansu-$TANSU_VERSION" && cargo tree -q --features dynostore,postgres >/dev/null)
cargo install --locked --path "$work/tansu-$TANSU_VERSION" --root "$TANSU_ROOT" \
  --features dynostore,postgres --force
