package apigw

// CodeOf is the error code a client is answered for err: its *Error's
// Code, or INTERNAL (what HTTPError and WSError send). Nil has no code.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	return clientError(err).Code
}
