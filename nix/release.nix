# The derivations behind flake.nix, without nixpkgs. Every pin comes from lock/lock.json:
#
#   go        the official Go toolchain archive (golang.org/toolchain module zip on the Go
#             module proxy), fetched by builtins.fetchTarball with go.archives.<host>.nix_hash
#   modules   the module set of go.mod and go.sum, a fixed-output derivation whose hash is
#             modules.nix_hash (`go tool mage lock` computes both, lock:check re-checks them)
#   release   release/cmd/cairn-release -mode images, run offline on the source tree: the
#             same entry point `go tool mage release` runs, so $out holds the same bin/,
#             oci/, archives/ and release.json as dist/
#
# Host assumptions (no nixpkgs, so nothing else to build with): the builders are the POSIX
# scripts build.sh and modules.sh run by the host's /bin/sh, with find, sort, mkdir and cp
# from /usr/bin or /bin; the module download reaches the proxy over HTTPS with the host's
# CA bundle (/etc/ssl/certs). That holds with sandbox = false (as .ci/setup configures),
# or with a sandbox whose sandbox-paths provide /bin, /usr/bin and /etc/ssl/certs.
{ self, system, lock, version, commit, epoch, dirty }:
let
  hosts = {
    x86_64-linux = "linux-amd64";
    aarch64-linux = "linux-arm64";
    x86_64-darwin = "darwin-amd64";
    aarch64-darwin = "darwin-arm64";
  };
  host = hosts.${system} or (throw "cairn: no Go toolchain for ${system} in lock/lock.json; it pins ${builtins.concatStringsSep ", " (builtins.attrNames lock.go.archives)}");
  archive = lock.go.archives.${host};
  # fetchTarball strips the zip's top directory "golang.org"; the GOROOT is below it.
  go = "${builtins.fetchTarball { url = archive.url; sha256 = archive.nix_hash; }}/toolchain@${archive.module_version}";

  modules = derivation {
    name = "cairn-go-modules";
    inherit system;
    builder = "/bin/sh";
    args = [ ./modules.sh ];
    src = self;
    GOROOT = go;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = lock.modules.nix_hash;
    # A mirror of proxy.golang.org may be named; the hash guards the bytes either way.
    impureEnvVars = [ "GOPROXY" "http_proxy" "https_proxy" "HTTP_PROXY" "HTTPS_PROXY" "NO_PROXY" ];
  };

  release = derivation {
    name = "cairn-release-${version}";
    inherit system;
    builder = "/bin/sh";
    args = [ ./build.sh ];
    src = self;
    GOROOT = go;
    inherit modules version commit;
    epoch = toString epoch;
    dirty = if dirty then "true" else "false";
  };
in
{
  inherit go modules release;
}
