# Builder of "cairn-release" (nix/release.nix): runs the release entry point,
# release/cmd/cairn-release, offline, with the pinned toolchain and the module set of the
# fixed-output derivation as a file:// proxy, and installs its dist/ as $out.
set -eu
export PATH="$GOROOT/bin:/usr/bin:/bin"
export HOME="$TMPDIR/home" GOCACHE="$TMPDIR/go-build" GOMODCACHE="$TMPDIR/go-mod"
export GOPROXY="file://$modules" GOSUMDB=off
# cairn-release is compiled and run in goenv.Assembler's environment, as mage runs it
# (test/nix checks that this line says the same, and that both report the same build):
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -trimpath" GOWORK=off GOENV=off GOEXPERIMENT= GODEBUG= GOFIPS140=
mkdir -p "$HOME"
cd "$src"
go run ./release/cmd/cairn-release -C "$src" -dist "$TMPDIR/dist" -mode images -goroot "$GOROOT" \
	-version "$version" -commit "$commit" -epoch "$epoch" -dirty="$dirty" -cache none
cp -R "$TMPDIR/dist" "$out"
