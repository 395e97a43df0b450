// Command hello is the tiny fixture binary of Cairn's signing and audit tests: it links one
// module dependency so its build information lists a module with a version and an h1 hash.
package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

func main() {
	ref, err := name.ParseReference("cairn.example/hello:v1")
	if err != nil {
		panic(err)
	}
	fmt.Println(ref.Context().RepositoryStr())
}
