package packages

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
)

// SignBlob signs data as `cosign sign-blob --key` does: the signer's signature of the
// SHA-256 digest of data (for ECDSA, ASN.1 DER), base64 encoded, without a newline; `cosign
// verify-blob --key cosign.pub --signature checksums.txt.sig --insecure-ignore-tlog
// checksums.txt` checks it. ECDSA signatures are randomized, so the signature, unlike
// checksums.txt, differs from run to run.
func SignBlob(signer crypto.Signer, data []byte) ([]byte, error) {
	digest := sha256.Sum256(data)
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing checksums: %w", err)
	}
	return []byte(base64.StdEncoding.EncodeToString(sig)), nil
}

// PublicKeyPEM encodes pub as a PEM "PUBLIC KEY" (PKIX), the form of cosign.pub.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
