package users_test

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzRegisterLogin sends arbitrary bodies to POST /users and POST /tokens: the answers are
// the documented statuses with an error object on refusal, never a 5xx.
func FuzzRegisterLogin(f *testing.F) {
	for _, s := range []string{`{"email":"a@example.com","password":"12345678"}`, `{"email":"a@example.com"}`,
		`{"email":"<a@b>","password":"12345678"}`, `{"email":"a@b","password":"` + strings.Repeat("x", 80) + `"}`, `{`, `null`, `""`, ""} {
		f.Add(s)
	}
	a, _ := newAPI(f)
	f.Fuzz(func(t *testing.T, body string) {
		w := a.do("POST", "/users", "", body)
		switch w.Code {
		case http.StatusCreated:
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			if !strings.Contains(w.Body.String(), `"error"`) {
				t.Fatalf("POST /users %q = %d %s, want an error object", body, w.Code, w.Body)
			}
		default:
			t.Fatalf("POST /users %q = %d %s, want 201, 400, 409 or 413", body, w.Code, w.Body)
		}
		w = a.do("POST", "/tokens", "", body)
		switch w.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("POST /tokens %q = %d %s, want 201, 400, 401 or 413", body, w.Code, w.Body)
		}
	})
}
