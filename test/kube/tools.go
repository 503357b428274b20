//go:build tools

// Package kube pins the Kubernetes control-plane commands the Job runtime's
// tests run; it is never compiled into the runner.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
