# Builder of the fixed-output derivation "cairn-go-modules" (nix/release.nix): downloads
# the module set of go.mod and go.sum as a GOPROXY=file:// tree. Its hash is
# lock/lock.json's modules.nix_hash, which lock.ModulesNixHash computes from exactly this
# tree: the *.mod and *.zip files of a fresh `go mod download`, nothing else.
set -eu
export PATH="$GOROOT/bin:/usr/bin:/bin"
export HOME="$TMPDIR/home" GOCACHE="$TMPDIR/go-build" GOMODCACHE="$TMPDIR/go-mod"
# go.sum pins every hash; the checksum database is not asked (its tiles change with time).
export GOSUMDB=off GOFLAGS="-mod=readonly -modcacherw" GOTOOLCHAIN=local GOWORK=off GOENV=off CGO_ENABLED=0
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
mkdir -p "$HOME"
cd "$src"
go mod download
cd "$GOMODCACHE/cache/download"
find . -type f \( -name '*.mod' -o -name '*.zip' \) | LC_ALL=C sort | while IFS= read -r f; do
	mkdir -p "$out/${f%/*}"
	cp "$f" "$out/$f"
done
