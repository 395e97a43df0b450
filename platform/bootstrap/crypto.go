package bootstrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the length of the secure bootstrap's key: AES-256.
const KeySize = 32

// sealer is the secure bootstrap's AES-256-GCM: a sealed message is the 12-byte random
// nonce followed by the ciphertext and its 16-byte tag, with the external id as additional
// data, so that an answer meant for one gateway does not open as another's.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("the secure bootstrap key has %d bytes, want %d (AES-256): generate one with openssl rand -hex 32", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// Seal encrypts plain for the gateway externalID.
func (s *sealer) Seal(plain []byte, externalID string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, []byte(externalID))
}

// Open decrypts what Seal made for externalID.
func (s *sealer) Open(sealed []byte, externalID string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("too short to be sealed")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], []byte(externalID))
}

// Seal encrypts plain for the gateway externalID with key, as the secure bootstrap answers
// (and as a gateway seals its external key): for gateways and tests written in Go.
func Seal(key, plain []byte, externalID string) ([]byte, error) {
	s, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	return s.Seal(plain, externalID), nil
}

// Open decrypts what Seal made.
func Open(key, sealed []byte, externalID string) ([]byte, error) {
	s, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	return s.Open(sealed, externalID)
}

// KeyFlag is the flag value of the secure bootstrap's key: 64 hex digits, or empty for none.
type KeyFlag []byte

func (k *KeyFlag) String() string { return "" } // a secret: never shown, not even in -h

// Set decodes a hex key of KeySize bytes.
func (k *KeyFlag) Set(s string) error {
	if s == "" {
		*k = nil
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != KeySize {
		return fmt.Errorf("want %d hex digits (a %d-byte AES-256 key: openssl rand -hex 32), got %d characters", 2*KeySize, KeySize, len(s))
	}
	*k = b
	return nil
}
