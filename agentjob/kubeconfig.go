package agentjob

import (
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// FlattenKubeconfig reads a cluster's kubeconfig and returns it
// self-contained, reduced to its current context: files it names
// (certificates, keys, a token file) are inlined, since the pod has none
// of the runner's files, and no other cluster's credentials come along.
func FlattenKubeconfig(file string) ([]byte, error) {
	cfg, err := clientcmd.LoadFromFile(file)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig for the agent Job: %w", err)
	}
	if err := clientcmdapi.MinifyConfig(cfg); err != nil {
		return nil, fmt.Errorf("reduce kubeconfig %s to its current context: %w", file, err)
	}
	for name, auth := range cfg.AuthInfos {
		if auth.TokenFile != "" {
			tok, err := os.ReadFile(auth.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("read token file of kubeconfig user %s: %w", name, err)
			}
			auth.Token, auth.TokenFile = string(tok), ""
		}
	}
	if err := clientcmdapi.FlattenConfig(cfg); err != nil {
		return nil, fmt.Errorf("inline the files of kubeconfig %s: %w", file, err)
	}
	return clientcmd.Write(*cfg)
}
