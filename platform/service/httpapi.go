package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxBodyBytes is the default limit of a JSON request body; a bigger one gets 413.
const MaxBodyBytes = 64 << 10

// WriteJSON writes v as JSON with status.
// It does not escape <, > and & (the answers are JSON, not HTML), so messages stay readable.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":"encoding the response failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// Error writes {"error": msg} with status. msg should say what was expected, what was found
// and what to do.
func Error(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// DecodeJSON reads r's body (at most limit bytes) into v, which must be a pointer to a
// struct. On failure it has already answered the request (413 for a body over limit, 400
// for malformed JSON, unknown fields, or trailing data) and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes; send a smaller one", mbe.Limit))
		return false
	}
	if errors.Is(err, io.EOF) {
		Error(w, http.StatusBadRequest, "request body is empty; send a JSON object")
		return false
	}
	Error(w, http.StatusBadRequest, fmt.Sprintf("request body is not the expected JSON object: %v", err))
	return false
}

// Credential returns the credential of r's Authorization header with the given scheme
// ("Bearer" for a user token, "Thing" for a thing key), case-insensitively; ok is false if
// the header is missing or uses another scheme.
func Credential(r *http.Request, scheme string) (cred string, ok bool) {
	h := r.Header.Get("Authorization")
	s, c, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(s, scheme) {
		return "", false
	}
	c = strings.TrimSpace(c)
	return c, c != ""
}
