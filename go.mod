module github.com/cairn-iot/cairn

go 1.26.0

tool (
	github.com/magefile/mage
	google.golang.org/protobuf/cmd/protoc-gen-go
)

require (
	github.com/bufbuild/protocompile v0.14.1
	github.com/magefile/mage v1.17.2
	google.golang.org/protobuf v1.36.12
)

require golang.org/x/sync v0.22.0 // indirect
