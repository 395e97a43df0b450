package sign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// EmptyMediaType is the OCI empty descriptor's media type; EmptyJSON its content.
const EmptyMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

// EmptyJSON is the content of an empty config.
var EmptyJSON = []byte("{}")

// Referrer is the OCI 1.1 artifact manifest that attaches a bundle to its subject, as cosign
// v3 writes it: artifact type the bundle's media type, an empty config, the bundle as its one
// layer, the statement's predicate type in an annotation.
type Referrer struct {
	// Manifest is the manifest's bytes, Digest their SHA-256.
	Manifest []byte
	Digest   v1.Hash
	// Bundle is the layer's content.
	Bundle []byte
}

type referrerManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     types.MediaType   `json:"mediaType"`
	Config        v1.Descriptor     `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Annotations   map[string]string `json:"annotations"`
	Subject       *v1.Descriptor    `json:"subject"`
	ArtifactType  string            `json:"artifactType"`
}

// NewReferrer returns the referrer of bundle (whose statement has predicateType) for
// subject, created at created (the release epoch: the same release gives the same bytes).
func NewReferrer(subject v1.Descriptor, bundle []byte, predicateType string, created time.Time) (*Referrer, error) {
	cfg, cfgSize, err := v1.SHA256(bytes.NewReader(EmptyJSON))
	if err != nil {
		return nil, err
	}
	layer, layerSize, err := v1.SHA256(bytes.NewReader(bundle))
	if err != nil {
		return nil, err
	}
	m := referrerManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: EmptyMediaType, Size: cfgSize, Digest: cfg, ArtifactType: BundleMediaType},
		Layers:        []v1.Descriptor{{MediaType: BundleMediaType, Size: layerSize, Digest: layer}},
		Annotations: map[string]string{
			BundleContentAnnotation:            "dsse-envelope",
			BundlePredicateTypeAnnotation:      predicateType,
			"org.opencontainers.image.created": created.UTC().Format(time.RFC3339),
		},
		Subject:      &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest},
		ArtifactType: BundleMediaType,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &Referrer{Manifest: raw, Digest: d, Bundle: bundle}, nil
}

// RawManifest and MediaType make a Referrer something go-containerregistry's remote.Put
// can push (it then updates the referrers tag of a registry without the referrers API).
func (r *Referrer) RawManifest() ([]byte, error) { return r.Manifest, nil }

// MediaType is the manifest's media type.
func (r *Referrer) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// ParseReferrer reads a referrer manifest: its subject, its predicate type annotation and its
// bundle layer's descriptor. It refuses a manifest that is not a bundle referrer.
func ParseReferrer(raw []byte) (subject v1.Descriptor, predicateType string, layer v1.Descriptor, err error) {
	var m referrerManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return subject, "", layer, fmt.Errorf("decoding referrer manifest: %w", err)
	}
	if m.Subject == nil || len(m.Layers) != 1 || m.Layers[0].MediaType != BundleMediaType {
		return subject, "", layer, fmt.Errorf("referrer manifest is not a Sigstore bundle: want a subject and one %s layer", BundleMediaType)
	}
	return *m.Subject, m.Annotations[BundlePredicateTypeAnnotation], m.Layers[0], nil
}
