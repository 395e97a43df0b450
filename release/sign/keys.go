package sign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types of cosign key files.
const (
	// PrivateKeyPEMType is what cosign generate-key-pair writes today.
	PrivateKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	// LegacyPrivateKeyPEMType is what older cosign releases wrote; still read.
	LegacyPrivateKeyPEMType = "ENCRYPTED COSIGN PRIVATE KEY"
	// PublicKeyPEMType is a PKIX public key.
	PublicKeyPEMType = "PUBLIC KEY"
)

// scrypt parameters accepted by go-securesystemslib/encrypted (legacy, standard, OWASP).
// New keys use the standard strength, as cosign does.
var scryptStrengths = []scryptParams{{N: 32768, R: 8, P: 1}, {N: 65536, R: 8, P: 1}, {N: 131072, R: 8, P: 1}}

type scryptParams struct {
	N int `json:"N"`
	R int `json:"r"`
	P int `json:"p"`
}

// encryptedKey is go-securesystemslib's encrypted.data, the JSON inside the PEM block.
type encryptedKey struct {
	KDF struct {
		Name   string       `json:"name"`
		Params scryptParams `json:"params"`
		Salt   []byte       `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// GenerateKey returns a new ECDSA P-256 private key, the only kind cosign verifies.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// MarshalPrivateKey encrypts key with password the way `cosign generate-key-pair` does
// (scrypt + nacl/secretbox over PKCS#8) and returns the PEM file contents.
func MarshalPrivateKey(key *ecdsa.PrivateKey, password []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	var e encryptedKey
	e.KDF.Name, e.KDF.Params, e.KDF.Salt = "scrypt", scryptStrengths[1], make([]byte, 32)
	e.Cipher.Name, e.Cipher.Nonce = "nacl/secretbox", make([]byte, 24)
	// Salt and nonce are random on purpose: a key file is a secret, not a release output.
	if _, err := rand.Read(e.KDF.Salt); err != nil {
		return nil, fmt.Errorf("reading salt: %w", err)
	}
	if _, err := rand.Read(e.Cipher.Nonce); err != nil {
		return nil, fmt.Errorf("reading nonce: %w", err)
	}
	boxKey, err := scrypt.Key(password, e.KDF.Salt, e.KDF.Params.N, e.KDF.Params.R, e.KDF.Params.P, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving key: %w", err)
	}
	var k [32]byte
	var n [24]byte
	copy(k[:], boxKey)
	copy(n[:], e.Cipher.Nonce)
	e.Ciphertext = secretbox.Seal(nil, der, &n, &k)
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding encrypted key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PrivateKeyPEMType, Bytes: body}), nil
}

// ParsePrivateKey decrypts a cosign private key file with password. It accepts the
// current and the legacy PEM type and only ECDSA P-256 keys.
func ParsePrivateKey(data, password []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("reading cosign private key: expected a PEM block, found none; pass the file written by `cosign generate-key-pair`")
	}
	if block.Type != PrivateKeyPEMType && block.Type != LegacyPrivateKeyPEMType {
		return nil, fmt.Errorf("reading cosign private key: expected PEM type %q, found %q; pass the cosign.key file, not the public key", PrivateKeyPEMType, block.Type)
	}
	var e encryptedKey
	if err := json.Unmarshal(block.Bytes, &e); err != nil {
		return nil, fmt.Errorf("reading cosign private key: decoding encrypted key JSON: %w", err)
	}
	if e.KDF.Name != "scrypt" || e.Cipher.Name != "nacl/secretbox" {
		return nil, fmt.Errorf("reading cosign private key: expected kdf scrypt and cipher nacl/secretbox, found %q and %q", e.KDF.Name, e.Cipher.Name)
	}
	known := false
	for _, p := range scryptStrengths {
		known = known || p == e.KDF.Params
	}
	if !known {
		return nil, fmt.Errorf("reading cosign private key: unsupported scrypt parameters N=%d r=%d p=%d", e.KDF.Params.N, e.KDF.Params.R, e.KDF.Params.P)
	}
	if len(e.Cipher.Nonce) != 24 {
		return nil, fmt.Errorf("reading cosign private key: expected a 24-byte nonce, found %d bytes", len(e.Cipher.Nonce))
	}
	boxKey, err := scrypt.Key(password, e.KDF.Salt, e.KDF.Params.N, e.KDF.Params.R, e.KDF.Params.P, 32)
	if err != nil {
		return nil, fmt.Errorf("reading cosign private key: deriving key: %w", err)
	}
	var k [32]byte
	var n [24]byte
	copy(k[:], boxKey)
	copy(n[:], e.Cipher.Nonce)
	der, ok := secretbox.Open(nil, e.Ciphertext, &n, &k)
	if !ok {
		return nil, errors.New("reading cosign private key: decryption failed; check COSIGN_PASSWORD")
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("reading cosign private key: parsing PKCS#8: %w", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("reading cosign private key: expected an ECDSA P-256 key, found %T; generate one with `cosign generate-key-pair`", key)
	}
	return ec, nil
}

// MarshalPublicKey returns the PKIX "PUBLIC KEY" PEM of key, as cosign writes cosign.pub.
func MarshalPublicKey(key *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType, Bytes: der}), nil
}

// ParsePublicKey reads a PKIX "PUBLIC KEY" PEM holding an ECDSA P-256 key.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("reading public key: expected a PEM block, found none; pass a cosign.pub file")
	}
	if block.Type != PublicKeyPEMType {
		return nil, fmt.Errorf("reading public key: expected PEM type %q, found %q; pass the cosign.pub file", PublicKeyPEMType, block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("reading public key: expected an ECDSA P-256 key, found %T", key)
	}
	return ec, nil
}

// DevKeyPair returns the development key pair in dir (cosign.key, cosign.pub, empty password),
// creating it on first use. created reports whether it was made now, so the caller can say so.
func DevKeyPair(dir string) (key *ecdsa.PrivateKey, pubPath string, created bool, err error) {
	keyPath, pubPath := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if data, err := os.ReadFile(keyPath); err == nil {
		key, err := ParsePrivateKey(data, nil)
		if err != nil {
			return nil, "", false, fmt.Errorf("%s: %w", keyPath, err)
		}
		return key, pubPath, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", false, fmt.Errorf("reading dev key: %w", err)
	}
	key, err = GenerateKey()
	if err != nil {
		return nil, "", false, fmt.Errorf("generating dev key: %w", err)
	}
	priv, err := MarshalPrivateKey(key, nil)
	if err != nil {
		return nil, "", false, err
	}
	pub, err := MarshalPublicKey(&key.PublicKey)
	if err != nil {
		return nil, "", false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", false, fmt.Errorf("creating key directory: %w", err)
	}
	// The public key first, the private key last and atomically: a half-made pair never
	// looks complete.
	if err := writeFileAtomic(pubPath, pub, 0o644); err != nil {
		return nil, "", false, err
	}
	if err := writeFileAtomic(keyPath, priv, 0o600); err != nil {
		return nil, "", false, err
	}
	return key, pubPath, true, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
