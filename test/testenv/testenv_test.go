package testenv

import (
	"net/http"
	"testing"
)

func TestRegistryAnswersV2(t *testing.T) {
	addr := Registry(t)
	resp, err := http.Get("http://" + addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ = %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("Docker-Distribution-Api-Version"); got != "registry/2.0" {
		t.Fatalf("Docker-Distribution-Api-Version = %q, want registry/2.0", got)
	}
}
