package panel

import (
	"context"
	"net/http"

	"github.com/berth-dev/berth/internal/access"
	"github.com/berth-dev/berth/internal/fault"
	"github.com/berth-dev/berth/internal/store"
)

// An instance endpoint (power, logs, stats, console, install log, files)
// has one implementation and two instance fronts: the admin API's, where
// an admin may do anything to any instance, and the client API's, where
// the authorizer decides what the signed-in user may do. A handler asks
// its instance front for the instance once it has checked the request
// itself. (Who may call a route at all is the authentication front of
// auth.go, applied before the handler runs.)

// target is the instance an endpoint acts on, as its front resolved it.
type target struct {
	in store.Instance
	// held is what the caller holds on the instance.
	held []access.Permission
	// may checks an action of p beyond the route's own, such as a command
	// typed on the console, against the instance as it is now. p is the
	// request's principal as found again when the action is asked for.
	may func(ctx context.Context, p access.Principal, act access.Action) error
}

// instanceFront resolves the instance named by a request's path, or
// refuses it.
type instanceFront func(r *http.Request) (target, error)

// adminInstance is the admin API's instance front: the instance by its id
// alone. A further action is the authorizer's to decide, for an admin: a
// read-only token changes nothing. Suspension keeps the seed's rules here
// (the console refuses commands, a power action refuses starts), so the
// authorizer is not told of it.
func (s *Server) adminInstance(r *http.Request) (target, error) {
	in, err := s.pathInstance(r)
	may := func(_ context.Context, p access.Principal, act access.Action) error {
		return access.Authorize(p, access.Instance{ID: in.ID}, act)
	}
	return target{in: in, held: access.All, may: may}, err
}

// clientInstance is the client API's instance front for a route that
// takes act: the caller must be allowed it on the instance, as must every
// further action asked on the same request.
func (s *Server) clientInstance(act access.Action) instanceFront {
	return func(r *http.Request) (target, error) {
		p := callerOf(r)
		id, err := pathID(r)
		if err != nil {
			return target{}, err
		}
		sh, err := s.authorizedInstance(r.Context(), p, id, act)
		if err != nil {
			return target{}, err
		}
		may := func(ctx context.Context, p access.Principal, act access.Action) error {
			_, err := s.authorizedInstance(ctx, p, id, act)
			return err
		}
		return target{in: sh.Instance, held: access.Held(p, accessInstance(sh)), may: may}, nil
	}
}

// authorizedInstance reads instance id with p's grant on it and asks the
// authorizer whether p may do act to it. A missing instance gets the very
// answer a stranger's gets.
func (s *Server) authorizedInstance(ctx context.Context, p access.Principal, id string, act access.Action) (store.Shared, error) {
	sh, err := s.store.InstanceForUser(ctx, id, p.UserID)
	if fault.Is(err, fault.NotExist) {
		return sh, access.ErrNotFound
	}
	if err != nil {
		return sh, err
	}
	return sh, access.Authorize(p, accessInstance(sh), act)
}

// accessInstance is what the authorizer needs to know of sh.
func accessInstance(sh store.Shared) access.Instance {
	return access.Instance{ID: sh.ID, OwnerID: sh.UserID, Suspended: sh.Suspended, Granted: sh.Granted}
}
