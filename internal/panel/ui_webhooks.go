package panel

import (
	"net/http"

	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// webhooksLogShown is how many of each webhook's latest deliveries the
// page shows; the API pages through more.
const webhooksLogShown = 5

// webhookRow is one webhook on the webhooks page, with its latest
// deliveries.
type webhookRow struct {
	store.Webhook
	Deliveries []store.Delivery
}

// webhooksView is the data of the webhooks page.
type webhooksView struct {
	Webhooks []webhookRow
	Events   []string
}

// webhooksPage lists an instance's webhooks, never their secrets, each
// with its latest deliveries, and the form that adds one, whose answer's
// secret the page shows once.
func (s *Server) webhooksPage(w http.ResponseWriter, r *http.Request, v *web.Viewer, iv instancePageView) error {
	list, err := s.store.Webhooks(r.Context(), iv.Instance.ID)
	if err != nil {
		return err
	}
	view := webhooksView{Events: store.WebhookEvents}
	for _, h := range list {
		log, err := s.store.WebhookDeliveries(r.Context(), h.ID, webhooksLogShown)
		if err != nil {
			return err
		}
		h.Secret = ""
		view.Webhooks = append(view.Webhooks, webhookRow{Webhook: h, Deliveries: log})
	}
	iv.Page = view
	return s.renderInstance(w, r, v, iv, "webhooks", "Webhooks")
}
