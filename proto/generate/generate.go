// Package generate compiles the .proto sources under proto/ with a pure-Go compiler
// (github.com/bufbuild/protocompile) and runs the pinned protoc-gen-go plugin on them,
// so that generating code needs no protoc binary and nothing installed but Go.
//
// The output depends only on the .proto sources and the plugin's version (pinned by the
// tool line in go.mod): the request names no compiler version and no host path, so the
// generated headers read "protoc (unknown)" on every machine.
package generate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/pluginpb"
)

// Plugin runs protoc-gen-go: it reads a serialized CodeGeneratorRequest on stdin and writes
// a CodeGeneratorResponse on stdout. It is injectable so that tests need no compiler.
type Plugin func(ctx context.Context, request []byte) ([]byte, error)

// GoTool returns a Plugin that runs `go tool protoc-gen-go` in the module rooted at moduleDir,
// that is, the plugin version pinned by go.mod.
func GoTool(moduleDir string) Plugin {
	return func(ctx context.Context, request []byte) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", "tool", "protoc-gen-go")
		cmd.Dir = moduleDir
		cmd.Stdin = bytes.NewReader(request)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("running go tool protoc-gen-go: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return stdout.Bytes(), nil
	}
}

// Sources lists the .proto files below protoDir, relative to it, sorted.
func Sources(protoDir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(protoDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".proto") {
			rel, err := filepath.Rel(protoDir, path)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing .proto files: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// Generate compiles every .proto file below protoDir and returns the generated files,
// keyed by their path relative to protoDir (paths=source_relative). It writes nothing.
func Generate(ctx context.Context, protoDir string, plugin Plugin) (map[string][]byte, error) {
	names, err := Sources(protoDir)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("compiling protos: no .proto files below %s", protoDir)
	}
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) { return os.Open(filepath.Join(protoDir, path)) },
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := compiler.Compile(ctx, names...)
	if err != nil {
		// protocompile reports "file:line:column: message"; name the file as the user sees it.
		return nil, fmt.Errorf("compiling protos: %s/%w", filepath.ToSlash(protoDir), err)
	}
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: names,
		Parameter:      proto.String("paths=source_relative"),
	}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range files {
		add(f)
	}
	in, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding plugin request: %w", err)
	}
	out, err := plugin(ctx, in)
	if err != nil {
		return nil, err
	}
	var resp pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("decoding plugin response: %w", err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("protoc-gen-go: %s", resp.GetError())
	}
	generated := make(map[string][]byte, len(resp.File))
	for _, f := range resp.File {
		generated[f.GetName()] = []byte(f.GetContent())
	}
	return generated, nil
}
