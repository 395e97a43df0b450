package audit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cairn-iot/cairn/release/attest"
)

// compareDocs checks that what the index-level and subject-level documents say about the
// platform's binaries equals what the binaries say.
func compareDocs[D any](kind string, have []attest.SBOMBinary, top, own *D, read func(*D) ([]attest.SBOMBinary, error)) error {
	if top == nil || own == nil {
		return fmt.Errorf("no verified %s to compare with", kind)
	}
	plat := ""
	if len(have) > 0 {
		plat = have[0].Platform
	}
	for _, doc := range []*D{top, own} {
		said, err := read(doc)
		if err != nil {
			return err
		}
		var mine []attest.SBOMBinary
		for _, b := range said {
			if b.Platform == plat {
				mine = append(mine, b)
			}
		}
		if err := diffBinaries(have, mine); err != nil {
			return fmt.Errorf("the %s disagrees with the binary: %w", kind, err)
		}
	}
	return nil
}

func diffBinaries(have, said []attest.SBOMBinary) error {
	if len(have) != len(said) {
		return fmt.Errorf("the image has %d Go binaries, the document lists %d", len(have), len(said))
	}
	sort.Slice(said, func(i, j int) bool { return said[i].Path < said[j].Path })
	for i, h := range have {
		s := said[i]
		switch {
		case h.Path != s.Path:
			return fmt.Errorf("binary %s is not in the document (found %s)", h.Path, s.Path)
		case h.SHA256 != s.SHA256:
			return fmt.Errorf("%s: sha256 %s, the document says %s", h.Path, h.SHA256, s.SHA256)
		case h.GoVersion != s.GoVersion:
			return fmt.Errorf("%s: built with %s, the document says %s", h.Path, h.GoVersion, s.GoVersion)
		case h.Main != s.Main:
			return fmt.Errorf("%s: main module %s, the document says %s", h.Path, h.Main, s.Main)
		}
		if err := diffLists("build setting", h.Settings, s.Settings); err != nil {
			return fmt.Errorf("%s: %w", h.Path, err)
		}
		if err := diffLists("module", h.Modules, s.Modules); err != nil {
			return fmt.Errorf("%s: %w", h.Path, err)
		}
	}
	return nil
}

func diffLists(what string, have, said []string) error {
	hs, ss := map[string]bool{}, map[string]bool{}
	for _, x := range have {
		hs[x] = true
	}
	for _, x := range said {
		ss[x] = true
	}
	var onlyBinary, onlyDoc []string
	for _, x := range have {
		if !ss[x] {
			onlyBinary = append(onlyBinary, x)
		}
	}
	for _, x := range said {
		if !hs[x] {
			onlyDoc = append(onlyDoc, x)
		}
	}
	if len(onlyBinary)+len(onlyDoc) == 0 {
		return nil
	}
	return fmt.Errorf("%ss differ: the binary has [%s], the document says [%s]", what, strings.Join(onlyBinary, "; "), strings.Join(onlyDoc, "; "))
}
