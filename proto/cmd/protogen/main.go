// Command protogen regenerates the Go code for proto/ in place (temporary bootstrap; mage proto wraps it).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairn-iot/cairn/proto/generate"
)

func main() {
	files, err := generate.Generate(context.Background(), "proto", generate.GoTool("."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join("proto", name), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
