package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// KeyLen is the length of a master key in bytes (AES-256).
const KeyLen = 32

// Purposes of the derived subkeys; changing one changes every record.
const (
	infoSeal        = "terok-vault seal v1"
	infoFingerprint = "terok-vault fingerprint v1"
	infoID          = "terok-vault key id v1"
)

// Key is a loaded master key, ready to seal and open records.
type Key struct {
	aead cipher.AEAD
	fp   []byte
	id   string
}

// New derives the subkeys of master (KeyLen bytes).
func New(master []byte) (*Key, error) {
	if len(master) != KeyLen {
		return nil, fmt.Errorf("%w: a key has %d bytes, not %d", ErrBadKeyFile, KeyLen, len(master))
	}
	derive := func(info string) []byte {
		b, err := hkdf.Key(sha256.New, master, nil, info, KeyLen)
		if err != nil { // only for lengths beyond 255 hashes
			panic(err)
		}
		return b
	}
	block, err := aes.NewCipher(derive(infoSeal))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	id := derive(infoID)
	return &Key{aead: aead, fp: derive(infoFingerprint), id: hex.EncodeToString(id[:4])}, nil
}

// ID is 8 hex digits that name this key: a store remembers the id of the
// key that sealed it, so a wrong key is told apart from a damaged record.
// It is a one-way function of the key and reveals nothing usable.
func (k *Key) ID() string { return k.id }

// Seal encrypts plaintext bound to aad with a fresh random nonce.
func (k *Key) Seal(plaintext, aad []byte) (nonce, sealed []byte, err error) {
	nonce = make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("random nonce: %w", err)
	}
	return nonce, k.aead.Seal(nil, nonce, plaintext, aad), nil
}

// Open decrypts a record sealed with Seal under the same aad. Any change
// of nonce, sealed bytes or aad, or another key, yields ErrOpen.
func (k *Key) Open(nonce, sealed, aad []byte) ([]byte, error) {
	if len(nonce) != k.aead.NonceSize() {
		return nil, fmt.Errorf("%w: nonce of %d bytes", ErrOpen, len(nonce))
	}
	pt, err := k.aead.Open(nil, nonce, sealed, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Fingerprint is 8 hex digits of HMAC-SHA256 of value under a key of this
// vault: two values are told apart in a listing, and without the key a
// fingerprint helps nobody guess or confirm a value.
func (k *Key) Fingerprint(value []byte) string {
	m := hmac.New(sha256.New, k.fp)
	m.Write(value)
	return hex.EncodeToString(m.Sum(nil)[:4])
}

// Generate returns a new random master key.
func Generate() ([]byte, error) {
	b := make([]byte, KeyLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random key: %w", err)
	}
	return b, nil
}
