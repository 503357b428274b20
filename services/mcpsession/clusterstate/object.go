package clusterstate

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Object is the part of a pods_get or resources_get answer (the object as
// YAML) that topology and the fault criteria read. One shape serves Pods,
// Nodes, ReplicaSets, Deployments, Jobs and their owners: the fields that
// are not there stay empty.
type Object struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	Spec       struct {
		NodeName string `yaml:"nodeName"`
	} `yaml:"spec"`
	Status Status `yaml:"status"`
}

// Metadata is an object's identity and owners.
type Metadata struct {
	Name            string     `yaml:"name"`
	Namespace       string     `yaml:"namespace"`
	UID             string     `yaml:"uid"`
	OwnerReferences []OwnerRef `yaml:"ownerReferences"`
}

// OwnerRef is one entry of metadata.ownerReferences.
type OwnerRef struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Name       string `yaml:"name"`
	UID        string `yaml:"uid"`
	Controller bool   `yaml:"controller"`
}

// Status holds a Pod's phase and container states, and the conditions of
// Nodes, Jobs and Deployments (the same four fields in each).
type Status struct {
	Phase             string            `yaml:"phase"`
	Conditions        []Condition       `yaml:"conditions"`
	ContainerStatuses []ContainerStatus `yaml:"containerStatuses"`
}

// Condition is one entry of status.conditions.
type Condition struct {
	Type               string    `yaml:"type"`
	Status             string    `yaml:"status"`
	Reason             string    `yaml:"reason"`
	Message            string    `yaml:"message"`
	LastTransitionTime time.Time `yaml:"lastTransitionTime"`
}

// ContainerStatus is one entry of a Pod's status.containerStatuses.
type ContainerStatus struct {
	Name         string         `yaml:"name"`
	RestartCount int            `yaml:"restartCount"`
	State        ContainerState `yaml:"state"`
	LastState    ContainerState `yaml:"lastState"`
}

// ContainerState is a container's state: at most one of them is set.
type ContainerState struct {
	Waiting *struct {
		Reason  string `yaml:"reason"`
		Message string `yaml:"message"`
	} `yaml:"waiting"`
	Terminated *Terminated `yaml:"terminated"`
}

// Terminated is a container's terminated state.
type Terminated struct {
	ExitCode   int       `yaml:"exitCode"`
	Reason     string    `yaml:"reason"`
	Message    string    `yaml:"message"`
	FinishedAt time.Time `yaml:"finishedAt"`
}

// ParseObject reads a pods_get or resources_get answer.
func ParseObject(text string) (Object, error) {
	var o Object
	if err := yaml.Unmarshal([]byte(text), &o); err != nil {
		return Object{}, fmt.Errorf("parse object: %w", err)
	}
	if o.Kind == "" || o.Metadata.Name == "" {
		return Object{}, fmt.Errorf("parse object: no kind or name in %q", clip(text, 120))
	}
	return o, nil
}

// Controller is the owner reference that controls the object (controller:
// true), else the first; false when it has none.
func (o Object) Controller() (OwnerRef, bool) {
	for _, r := range o.Metadata.OwnerReferences {
		if r.Controller {
			return r, true
		}
	}
	if len(o.Metadata.OwnerReferences) > 0 {
		return o.Metadata.OwnerReferences[0], true
	}
	return OwnerRef{}, false
}

// Condition is the status condition of type t, if any.
func (o Object) Condition(t string) (Condition, bool) {
	for _, c := range o.Status.Conditions {
		if c.Type == t {
			return c, true
		}
	}
	return Condition{}, false
}
