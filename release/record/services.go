package record

// Service is one binary of the release and the image that carries it.
type Service struct {
	// Name is the binary's file name, the image's ref name and its entrypoint's base name.
	Name string `json:"name"`
	// Package is the main package path the binary is built from.
	Package string `json:"package"`
	// Ports are the image's ExposedPorts, such as "8080/tcp".
	Ports []string `json:"ports"`
	// DataDirs are directories of the image owned by the run-time user (65532).
	DataDirs []string `json:"data_dirs,omitempty"`
}

// Services is the table of Cairn's services, in release order (the order of dist/oci's
// index.json and of release.json). It is data: adding a service is adding a line here.
var Services = []Service{
	{Name: "cairn", Package: "./platform/cmd/cairn", Ports: []string{"8080/tcp", "1883/tcp"}, DataDirs: []string{"/var/lib/cairn"}},
	{Name: "users", Package: "./platform/cmd/users", Ports: []string{"9002/tcp"}},
	{Name: "things", Package: "./platform/cmd/things", Ports: []string{"9000/tcp"}},
	{Name: "http", Package: "./platform/cmd/http", Ports: []string{"8008/tcp"}},
	{Name: "mqtt", Package: "./platform/cmd/mqtt", Ports: []string{"1883/tcp", "8009/tcp"}},
	{Name: "messages", Package: "./platform/cmd/messages", Ports: []string{"9011/tcp"}},
	{Name: "bootstrap", Package: "./platform/cmd/bootstrap", Ports: []string{"8202/tcp"}},
}
