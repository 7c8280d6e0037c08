package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// answerMax bounds the answer read from a provider's API.
const answerMax = 64 << 10

// postJSON posts body as JSON to url with the headers hdr and returns the
// answer (its body already read, at most answerMax bytes, and closed). A
// transport error does not name the URL: Telegram's holds the bot's token.
func postJSON(ctx context.Context, hc *http.Client, url string, hdr map[string]string, body any) (*http.Response, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, nil, Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, nil, Permanent(errors.New("the API's address is not a URL"))
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap()
		}
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, answerMax))
	return resp, raw, err
}
