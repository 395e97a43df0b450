// Command protogen regenerates the Go code for proto/ in place. It predates the mage targets
// and is kept for scripts that call it; `go tool mage proto` is the same thing.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cairn-iot/cairn/proto/generate"
)

func main() {
	if _, err := generate.Write(context.Background(), "proto", generate.GoTool(".")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
