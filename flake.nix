{
  # `nix build` (= `nix build .#release`) rebuilds the Cairn release of this commit bit for
  # bit: $out/{bin,oci,archives,release.json} equal dist/ of `go tool mage release`, and
  # `go tool mage verify:nix` checks that they do.
  #
  # No inputs, no nixpkgs: nixpkgs patches Go's standard library, so its Go cannot reproduce
  # the official toolchain's bytes. Everything is read from lock/lock.json (see
  # nix/release.nix): the official toolchain archive by its hash, the module set as one
  # fixed-output derivation by its hash; updating the lock updates the flake.
  #
  # The release's identity is the commit's, as `go tool mage release` resolves it:
  #   commit  self.rev
  #   epoch   SOURCE_DATE_EPOCH if set, else the commit time (self.lastModified)
  #   version CAIRN_VERSION if set, else the first 12 hex digits of self.rev, which is what
  #           `git describe --tags --always --abbrev=12` prints when no tag is reachable
  # Environment variables are seen only with --impure; a tagged release is rebuilt with
  #   CAIRN_VERSION=v1.2.3 nix build --impure .#release
  # A tree with uncommitted changes has no self.rev: the build is refused unless
  # CAIRN_COMMIT (HEAD) and a CAIRN_VERSION ending in -dirty are given, as verify:nix does
  # for a dist/ built from a dirty tree; nix then builds the tracked files as they are.
  description = "Cairn: rebuild a release bit for bit with the official Go toolchain";

  outputs = { self }:
    let
      lock = builtins.fromJSON (builtins.readFile ./lock/lock.json);
      getEnv = builtins.getEnv; # "" in pure evaluation
      rev = self.rev or null;
      dirty = rev == null;
      commit =
        let c = getEnv "CAIRN_COMMIT"; in
        if !dirty then
          (if c != "" && c != rev then throw "cairn: CAIRN_COMMIT is ${c}, but the flake's tree is commit ${rev}; unset CAIRN_COMMIT or build that commit" else rev)
        else if c != "" then c
        else throw "cairn: the git tree has uncommitted changes, so nix does not know its commit; commit them (a release is built from a commit), or pass CAIRN_COMMIT=<HEAD> and CAIRN_VERSION=<version>-dirty with --impure to rebuild a dirty dist/";
      version =
        let v = getEnv "CAIRN_VERSION"; in
        if dirty && v == "" then builtins.seq commit (throw "cairn: the git tree has uncommitted changes; pass CAIRN_VERSION=<version>-dirty with --impure, as for CAIRN_COMMIT")
        else if dirty && builtins.match ".*-dirty" v == null then
          throw "cairn: the git tree has uncommitted changes; CAIRN_VERSION must end in -dirty (as git describe --dirty prints), found \"${v}\""
        else if v != "" then v
        else builtins.substring 0 12 rev;
      epoch =
        let e = getEnv "SOURCE_DATE_EPOCH"; in
        if e != "" then e else toString self.lastModified;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forSystem = system:
        let r = import ./nix/release.nix { inherit self system lock version commit epoch dirty; }; in
        {
          release = r.release;
          default = r.release;
          modules = r.modules;
        };
    in
    {
      packages = builtins.listToAttrs (map (s: { name = s; value = forSystem s; }) systems);
    };
}
