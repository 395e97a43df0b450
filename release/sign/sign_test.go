package sign

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// testKey is made once: scrypt at cosign's strength costs a noticeable fraction of a second.
var testKey = func() *ecdsa.PrivateKey {
	k, err := GenerateKey()
	if err != nil {
		panic(err)
	}
	return k
}()

func TestPrivateKeyRoundTrip(t *testing.T) {
	for _, pass := range []string{"", "correct horse"} {
		pemData, err := MarshalPrivateKey(testKey, []byte(pass))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pemData, []byte("-----BEGIN "+PrivateKeyPEMType+"-----")) {
			t.Fatalf("MarshalPrivateKey() = %q, want a %s PEM block", pemData[:40], PrivateKeyPEMType)
		}
		got, err := ParsePrivateKey(pemData, []byte(pass))
		if err != nil {
			t.Fatalf("ParsePrivateKey(password %q) = %v, want nil", pass, err)
		}
		if !got.Equal(testKey) {
			t.Errorf("ParsePrivateKey(MarshalPrivateKey(k)) != k")
		}
		if _, err := ParsePrivateKey(pemData, []byte(pass+"x")); err == nil || !strings.Contains(err.Error(), "COSIGN_PASSWORD") {
			t.Errorf("ParsePrivateKey(wrong password) = %v, want a decryption error naming COSIGN_PASSWORD", err)
		}
	}
}

func TestParseKeysRejects(t *testing.T) {
	pub, err := MarshalPublicKey(&testKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "expected a PEM block"},
		{"public as private", string(pub), `found "PUBLIC KEY"`},
		{"bad json", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJ4Ijo=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n", "decoding encrypted key JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePrivateKey([]byte(tc.data), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePrivateKey(%s) = %v, want error containing %q", tc.name, err, tc.want)
			}
		})
	}
	got, err := ParsePublicKey(pub)
	if err != nil || !got.Equal(&testKey.PublicKey) {
		t.Errorf("ParsePublicKey(MarshalPublicKey(k)) = %v, %v, want k, nil", got, err)
	}
}

func TestDevKeyPair(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k1, pub, created, err := DevKeyPair(dir)
	if err != nil || !created {
		t.Fatalf("DevKeyPair(new) = created %v, %v, want true, nil", created, err)
	}
	k2, _, created, err := DevKeyPair(dir)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("DevKeyPair(again) = created %v, same %v, %v, want false, true, nil", created, k1.Equal(k2), err)
	}
	data, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ParsePublicKey(data); err != nil || !p.Equal(&k1.PublicKey) {
		t.Errorf("public key file does not hold the dev key's public key: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "cosign.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cosign.key mode = %v, %v, want 0600", fi.Mode(), err)
	}
}

func TestSignaturesAreDeterministic(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	a, err := NewSignature(testKey, "cairn/things", d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSignature(testKey, "cairn/things", d)
	if err != nil {
		t.Fatal(err)
	}
	if a.Annotations[SignatureAnnotation] != b.Annotations[SignatureAnnotation] {
		t.Errorf("two signatures of the same payload differ: %s vs %s", a.Annotations[SignatureAnnotation], b.Annotations[SignatureAnnotation])
	}
	sig, _ := base64.StdEncoding.DecodeString(a.Annotations[SignatureAnnotation])
	if !VerifyBytes(&testKey.PublicKey, a.Payload, sig) {
		t.Errorf("VerifyBytes(signature of payload) = false, want true")
	}
	ss, err := ParseSimpleSigning(a.Payload)
	if err != nil || ss.Critical.Image.DockerManifestDigest != d.String() {
		t.Errorf("ParseSimpleSigning(payload) = %+v, %v, want digest %s", ss, err, d)
	}
	ia, err := Image([]Layer{a}, testEpoch)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := Image([]Layer{b}, testEpoch)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := ia.Digest()
	db, _ := ib.Digest()
	if da != db {
		t.Errorf("signature image digests differ: %s vs %s", da, db)
	}
	layers, err := Layers(ia)
	if err != nil || len(layers) != 1 || !bytes.Equal(layers[0].Payload, a.Payload) || layers[0].MediaType != SimpleSigningMediaType {
		t.Errorf("Layers(Image([sig])) = %+v, %v, want the signature back", layers, err)
	}
}

func TestEnvelope(t *testing.T) {
	env, err := SignEnvelope(testKey, InTotoPayloadType, []byte(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	typ, payload, err := VerifyEnvelope(&testKey.PublicKey, env)
	if err != nil || typ != InTotoPayloadType || string(payload) != `{"x":1}` {
		t.Fatalf("VerifyEnvelope(SignEnvelope(p)) = %q, %q, %v, want %q, p, nil", typ, payload, err, InTotoPayloadType)
	}
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := VerifyEnvelope(&other.PublicKey, env); err == nil {
		t.Errorf("VerifyEnvelope(wrong key) = nil, want an error")
	}
	var e Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	e.Payload = base64.StdEncoding.EncodeToString([]byte(`{"x":2}`))
	tampered, _ := json.Marshal(e)
	if _, _, err := VerifyEnvelope(&testKey.PublicKey, tampered); err == nil {
		t.Errorf("VerifyEnvelope(tampered payload) = nil, want an error")
	}
	if got, want := string(PAE("t", []byte("ab"))), "DSSEv1 1 t 2 ab"; got != want {
		t.Errorf("PAE(t, ab) = %q, want %q", got, want)
	}
}
