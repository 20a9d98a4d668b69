package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// projectYAML is p as project.yml writes it: the wire's keys (they are
// the file's), in their order, without empty sections.
func projectYAML(p webapi.Project) ([]byte, error) {
	j, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(j, &doc); err != nil { // JSON is YAML
		return nil, err
	}
	blockStyle(&doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// blockStyle writes n as YAML's block style (it was read as JSON's flow)
// and drops the empty mappings in it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.MappingNode {
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.MappingNode && len(v.Content) == 0 {
				continue
			}
			kept = append(kept, k, v)
		}
		n.Content = kept
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// parseProjectYAML reads a project as project.yml writes it; a key the
// wire does not know is an error naming it.
func parseProjectYAML(b []byte) (webapi.Project, error) {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return webapi.Project{}, err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return webapi.Project{}, fmt.Errorf("not a project: %v", err)
	}
	var p webapi.Project
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return webapi.Project{}, err
	}
	return p, nil
}
