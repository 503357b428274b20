package alertmanager

// Bind opens the endpoint's listener now, so that an address in use stops
// the runner at start, as the runner's other servers do, instead of a
// supervisor retrying in the background while alert-only clusters stay
// unready. Serve uses the listener Bind opened.
func (s *Service) Bind() error { return s.server.Bind() }
