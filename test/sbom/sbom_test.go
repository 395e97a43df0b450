// Package sbom_test validates the SBOMs a release attests against their published JSON
// schemas: SPDX 2.3 (the SPDX project's schema, kept in testdata) and CycloneDX 1.6 (the
// CycloneDX project's schema, as its JavaScript library ships it on the npm registry, fetched
// once and checked against the registry's sha512 integrity). The documents are those
// attest.Attach writes for a fixture image holding a real Go binary: the index's and each
// platform's.
package sbom_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/test/testenv"
)

const (
	spdxSchemaID     = "http://spdx.org/rdf/terms/2.3"
	spdxSchemaSHA256 = "239208b7ac287b3cf5d9a9af23f9d69863971102a5e1587a27a398b43490b89b"

	cdxSchemaBase = "http://cyclonedx.org/schema/"
	cdxSchemaID   = cdxSchemaBase + "bom-1.6.SNAPSHOT.schema.json"
	// cdxLibrary is the npm package that ships the CycloneDX schemas, with the registry's
	// integrity of its tarball.
	cdxLibrary   = "https://registry.npmjs.org/@cyclonedx/cyclonedx-library/-/cyclonedx-library-10.3.0.tgz"
	cdxIntegrity = "sha512-RIT28sp1U0PCHaaeF3yNRwk6Jig/XJ8UsYAVOMYaHQ+0VVOvsjcp0PTWQFLUqJFF8XMud+Kdq6G+wtDAh+QJFA=="
)

// cdxSchemaFiles are the schema files bom-1.6 needs, in the library's res/schema/.
var cdxSchemaFiles = []string{"bom-1.6.SNAPSHOT.schema.json", "spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json", "cryptography-defs.SNAPSHOT.schema.json"}

func TestSBOMsMatchTheirSchemas(t *testing.T) {
	spdx := compile(t, spdxSchemaID, map[string][]byte{spdxSchemaID: spdxSchema(t)})
	cdx := compile(t, cdxSchemaID, cdxSchemas(t))
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	a, err := attest.Attach(key, attesttest.Build(), "things", "cairn/things", attesttest.Index(t, "things"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, f := range a.Files {
		var st attest.Statement
		if err := json.Unmarshal(f.Data, &st); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		var schema *jsonschema.Schema
		switch st.PredicateType {
		case attest.SPDXPredicateType:
			schema = spdx
		case attest.CycloneDXPredicateType:
			schema = cdx
		default:
			continue
		}
		seen[st.PredicateType]++
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(st.Predicate))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("%s does not match its schema: %v", f.Name, err)
		}
	}
	// The index and the two platforms, each in both formats.
	if seen[attest.SPDXPredicateType] != 3 || seen[attest.CycloneDXPredicateType] != 3 {
		t.Errorf("validated %v, want 3 SPDX and 3 CycloneDX documents", seen)
	}
}

// The schemas are strict enough to catch what matters: a BOM without its serial number's
// form, or an SPDX package without its download location, is refused.
func TestSchemasRefuseBrokenDocuments(t *testing.T) {
	spdx := compile(t, spdxSchemaID, map[string][]byte{spdxSchemaID: spdxSchema(t)})
	cdx := compile(t, cdxSchemaID, cdxSchemas(t))
	for _, tt := range []struct {
		name   string
		schema *jsonschema.Schema
		doc    string
	}{
		{"cyclonedx serial number", cdx, `{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:not-a-uuid","version":1}`},
		{"cyclonedx component type", cdx, `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"binary","name":"x"}]}`},
		{"spdx package", spdx, `{"SPDXID":"SPDXRef-DOCUMENT","spdxVersion":"SPDX-2.3","name":"x","dataLicense":"CC0-1.0","documentNamespace":"https://x","creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: x"]},"packages":[{"name":"x","SPDXID":"SPDXRef-x"}]}`},
	} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := tt.schema.Validate(doc); err == nil {
			t.Errorf("%s: the schema accepts %s, want a refusal", tt.name, tt.doc)
		}
	}
}

func compile(t *testing.T, id string, files map[string][]byte) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, b := range files {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("schema %s: %v", url, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("schema %s: %v", url, err)
		}
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compiling %s: %v", id, err)
	}
	return s
}

func spdxSchema(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "spdx-2.3.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != spdxSchemaSHA256 {
		t.Fatalf("testdata/spdx-2.3.schema.json has sha256:%x, want %s (the SPDX project's schema at spdx-spec v2.3): restore it from git", sum, spdxSchemaSHA256)
	}
	return b
}

// cdxSchemas returns the CycloneDX schema files by their URL, from the npm package, cached in
// the user cache directory by its integrity.
func cdxSchemas(t *testing.T) map[string][]byte {
	t.Helper()
	tgz, err := npmTarball(cdxLibrary, cdxIntegrity)
	if err != nil {
		testenv.Unavailable(t, "the CycloneDX schemas (%s): %v", cdxLibrary, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, f := range cdxSchemaFiles {
		want["package/res/schema/"+f] = true
	}
	out := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if want[h.Name] {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[cdxSchemaBase+path.Base(h.Name)] = b
		}
	}
	if len(out) != len(cdxSchemaFiles) {
		t.Fatalf("%s holds %d of the schema files %v", cdxLibrary, len(out), cdxSchemaFiles)
	}
	return out
}

// npmTarball returns the tarball at url whose sha512 is integrity (the npm registry's
// "sha512-<base64>"), from the cache or downloaded into it.
func npmTarball(url, integrity string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(integrity, "sha512-"))
	if err != nil {
		return nil, err
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	cached := filepath.Join(dir, "cairn", "test", hex.EncodeToString(raw)+".tgz")
	check := func(b []byte) error {
		if sum := sha512.Sum512(b); !bytes.Equal(sum[:], raw) {
			return fmt.Errorf("%s has sha512 %s, want %s", url, base64.StdEncoding.EncodeToString(sum[:]), integrity)
		}
		return nil
	}
	if b, err := os.ReadFile(cached); err == nil && check(b) == nil {
		return b, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if err := check(b); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return nil, err
	}
	tmp := cached + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return nil, err
	}
	return b, errors.Join(os.Rename(tmp, cached))
}
