package sign

import (
	"testing"
	"time"
)

var testEpoch = time.Unix(1700000000, 0).UTC()

// FuzzParsePublicKey: key files come from outside (COSIGN_PUBLIC_KEY, --key).
func FuzzParsePublicKey(f *testing.F) {
	pub, err := MarshalPublicKey(&testKey.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pub)
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err == nil && k == nil {
			t.Fatal("ParsePublicKey returned nil key and nil error")
		}
	})
}

// FuzzParsePrivateKey: COSIGN_KEY files come from outside. Only the parsing up to the KDF
// is fuzzed cheaply; an accepted key must be a P-256 key.
func FuzzParsePrivateKey(f *testing.F) {
	f.Add([]byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKey(data, nil)
		if err == nil && k == nil {
			t.Fatal("ParsePrivateKey returned nil key and nil error")
		}
	})
}

// FuzzVerifyEnvelope: attestations are read from registries and layouts.
func FuzzVerifyEnvelope(f *testing.F) {
	env, err := SignEnvelope(testKey, InTotoPayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1"}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, payload, err := VerifyEnvelope(&testKey.PublicKey, data)
		if err != nil {
			return
		}
		// Anything accepted must really be signed: re-signing gives the same PAE signature.
		if _, p, err := ParseEnvelope(data); err != nil || string(p) != string(payload) || typ == "" {
			t.Fatalf("accepted envelope does not parse back: %v", err)
		}
	})
}
