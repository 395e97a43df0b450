package attest

import "testing"

// FuzzReadStatement: statements arrive in attestations from registries; after the signature
// verifies they are decoded and read back. Decoding must not panic on any input.
func FuzzReadStatement(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"things","digest":{"sha256":"00"}}],"predicateType":"https://spdx.dev/Document","predicate":{"packages":[{"SPDXID":"SPDXRef-Binary-x","name":"/usr/bin/x","annotations":[{"comment":"go.version: go1.26.8"}]}],"relationships":[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-Binary-x"}]}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://github.com/cairn-iot/cairn/release/buildtype/v1","resolvedDependencies":[{"uri":"pkg:golang/a@v1","name":"a","annotations":{"h1":"h1:x","version":"v1"}}]},"runDetails":{"byproducts":[{"name":"/x","annotations":{"modules":["a@v1 h1:x"]}}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseStatement(data)
		if err != nil {
			return
		}
		var doc SPDX
		if jsonUnmarshal(st.Predicate, &doc) == nil {
			doc.Binaries()
		}
		if p, err := ParseProvenance(st.Predicate); err == nil {
			p.Binaries()
		}
	})
}
