package mcpsession

// Reasons lists every reason a session fails or ends, the reason label
// values of the sse_* metrics.
func Reasons() []string {
	return []string{
		ReasonConnectionRefused, ReasonDNS, ReasonTimeout, ReasonTLS, ReasonHTTP4xx, ReasonHTTP5xx,
		ReasonProtocol, ReasonSubscribeFailed, ReasonSubscribeRefused, ReasonStreamClosed, ReasonKeepaliveTimeout,
		ReasonSubscriptionError, ReasonOther,
	}
}
