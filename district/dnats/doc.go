// Package dnats carries a district's coordination over NATS.
//
// Subjects, for district D: gridd.district.D.solve.SITE (request/reply: a
// district.Request, answered by a district.Reply), gridd.district.D.caps.SITE
// (request/reply: Caps, answered by an Ack once the site has put them in
// force), and gridd.district.D.telemetry.KIND on the JetStream stream
// GRIDD_DISTRICT_D (kinds round, event, plan.SITE with each site's cap and
// plan, and result, the cycle's summary; every publish waits for the
// stream's acknowledgement). Sites register in the key-value bucket
// gridd-district-D under site.ID and re-put their entry every
// HeartbeatInterval; the bucket forgets an entry RegistrationTTL after its
// last put, so a dead site's ID is free again within that time. A second
// instance with a live site's ID is refused (ErrDuplicate) until the first
// is gone. The coordinator claims the district under the bucket's key
// coordinator the same way (Coordinator.Claim; ErrOtherCoordinator), and
// runs no cycle while its claim is not held.
//
// Embedded starts an in-process NATS server with JetStream, used by
// `gridd coordinate` and `gridd demo --sites` when no --nats URL is given.
// Coordinator runs the cycles (district.Coordinate over RemoteSites, caps
// to every site, the outcome on the stream); Participant is the site's
// side, wired into `gridd run --nats URL --district-site ID`.
package dnats
