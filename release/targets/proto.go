package targets

import (
	"context"

	"github.com/cairn-iot/cairn/proto/generate"
)

// protoDir holds the .proto sources and, beside them, the generated Go code.
const protoDir = "proto"

// ProtoGenerate regenerates the Go code of proto/**/*.proto with the pure-Go compiler and the
// protoc-gen-go pinned in go.mod; nothing is written unless every file compiles.
func ProtoGenerate(ctx context.Context) error {
	_, err := generate.Write(ctx, protoDir, generate.GoTool("."))
	return err
}

// ProtoCheck regenerates into a temporary directory and fails, naming the file, if the
// committed code differs.
func ProtoCheck(ctx context.Context) error {
	return generate.Check(ctx, protoDir, generate.GoTool("."))
}
