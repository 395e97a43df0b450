package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/id"
	"github.com/cairn-iot/cairn/platform/users"
)

type api struct {
	t   testing.TB
	mux *http.ServeMux
}

func newAPI(t testing.TB) (*api, *users.Service) {
	t.Helper()
	b := bustest.New(t)
	s, err := users.NewService(context.Background(), b.JS, users.WithCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	return &api{t, mux}, s
}

func (a *api) do(method, path, auth, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	a.mux.ServeHTTP(w, r)
	return w
}

func TestRegisterLoginIdentify(t *testing.T) {
	a, _ := newAPI(t)
	w := a.do("POST", "/users", "", `{"email":"ada@example.com","password":"12345678"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /users = %d %s, want 201", w.Code, w.Body)
	}
	var u struct{ ID, Email string }
	if err := json.Unmarshal(w.Body.Bytes(), &u); err != nil || !id.Valid(u.ID) || u.Email != "ada@example.com" {
		t.Fatalf("POST /users body = %s, want id and email", w.Body)
	}
	if got, want := w.Header().Get("Location"), "/users/"+u.ID; got != want {
		t.Errorf("POST /users Location = %q, want %q", got, want)
	}
	if strings.Contains(w.Body.String(), "password") {
		t.Errorf("POST /users body %s shows the password hash", w.Body)
	}

	w = a.do("POST", "/tokens", "", `{"email":"ada@example.com","password":"12345678"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /tokens = %d %s, want 201", w.Code, w.Body)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || tok.Token == "" {
		t.Fatalf("POST /tokens body = %s, want a token", w.Body)
	}

	w = a.do("GET", "/users/me", "Bearer "+tok.Token, "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), u.ID) {
		t.Errorf("GET /users/me = %d %s, want 200 with id %s", w.Code, w.Body, u.ID)
	}
}

func TestIdentify(t *testing.T) {
	b := bustest.New(t)
	ctx := context.Background()
	s, err := users.NewService(ctx, b.JS, users.WithCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	a := &api{t, mux}
	w := a.do("POST", "/users", "", `{"email":"bob@example.com","password":"password1"}`)
	var u struct{ ID string }
	json.Unmarshal(w.Body.Bytes(), &u)
	w = a.do("POST", "/tokens", "", `{"email":"BOB@example.com","password":"password1"}`)
	var tok struct{ Token string }
	json.Unmarshal(w.Body.Bytes(), &tok)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /tokens with the email in another case = %d %s, want 201", w.Code, w.Body)
	}
	got, err := users.Identify(ctx, b.JS, tok.Token)
	if err != nil || got != u.ID {
		t.Errorf("Identify(token) = %q, %v, want %q", got, err, u.ID)
	}
	for _, bad := range []string{"", "x", tok.Token + "x", strings.ToUpper(tok.Token)} {
		if got, err := users.Identify(ctx, b.JS, bad); !errors.Is(err, users.ErrUnauthenticated) {
			t.Errorf("Identify(%q) = %q, %v, want ErrUnauthenticated", bad, got, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	a, _ := newAPI(t)
	if w := a.do("POST", "/users", "", `{"email":"eve@example.com","password":"correct horse"}`); w.Code != http.StatusCreated {
		t.Fatalf("POST /users = %d %s", w.Code, w.Body)
	}
	big := `{"email":"x@example.com","password":"` + strings.Repeat("p", 70<<10) + `"}`
	tests := []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{"register duplicate", "POST", "/users", "", `{"email":"eve@example.com","password":"another one"}`, http.StatusConflict},
		{"register duplicate other case", "POST", "/users", "", `{"email":"Eve@example.com","password":"another one"}`, http.StatusConflict},
		{"register malformed", "POST", "/users", "", `{"email":`, http.StatusBadRequest},
		{"register empty body", "POST", "/users", "", ``, http.StatusBadRequest},
		{"register unknown field", "POST", "/users", "", `{"mail":"a@example.com","password":"12345678"}`, http.StatusBadRequest},
		{"register bad email", "POST", "/users", "", `{"email":"not-an-email","password":"12345678"}`, http.StatusBadRequest},
		{"register named email", "POST", "/users", "", `{"email":"Eve <e@example.com>","password":"12345678"}`, http.StatusBadRequest},
		{"register short password", "POST", "/users", "", `{"email":"a@example.com","password":"1234567"}`, http.StatusBadRequest},
		{"register long password", "POST", "/users", "", `{"email":"a@example.com","password":"` + strings.Repeat("p", 73) + `"}`, http.StatusBadRequest},
		{"register too large", "POST", "/users", "", big, http.StatusRequestEntityTooLarge},
		{"login wrong password", "POST", "/tokens", "", `{"email":"eve@example.com","password":"wrong horse"}`, http.StatusUnauthorized},
		{"login unknown email", "POST", "/tokens", "", `{"email":"nobody@example.com","password":"correct horse"}`, http.StatusUnauthorized},
		{"login empty", "POST", "/tokens", "", `{}`, http.StatusUnauthorized},
		{"login malformed", "POST", "/tokens", "", `[1,2]`, http.StatusBadRequest},
		{"login too large", "POST", "/tokens", "", big, http.StatusRequestEntityTooLarge},
		{"me without token", "GET", "/users/me", "", ``, http.StatusUnauthorized},
		{"me with bad token", "GET", "/users/me", "Bearer nope", ``, http.StatusUnauthorized},
		{"me with thing scheme", "GET", "/users/me", "Thing nope", ``, http.StatusUnauthorized},
		{"wrong method", "GET", "/users", "", ``, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := a.do(tt.method, tt.path, tt.auth, tt.body)
			if w.Code != tt.want {
				t.Fatalf("%s %s %.60q = %d %s, want %d", tt.method, tt.path, tt.body, w.Code, w.Body, tt.want)
			}
			if tt.want != http.StatusMethodNotAllowed && !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("%s %s body = %s, want an error object", tt.method, tt.path, w.Body)
			}
		})
	}
	// Nothing of the refused registrations was stored: eve's password is unchanged, and
	// a@example.com does not exist.
	if w := a.do("POST", "/tokens", "", `{"email":"eve@example.com","password":"correct horse"}`); w.Code != http.StatusCreated {
		t.Errorf("after the refusals, eve's login = %d %s, want 201", w.Code, w.Body)
	}
	if w := a.do("POST", "/tokens", "", `{"email":"a@example.com","password":"12345678"}`); w.Code != http.StatusUnauthorized {
		t.Errorf("after the refusals, a@example.com's login = %d, want 401 (never registered)", w.Code)
	}
}
