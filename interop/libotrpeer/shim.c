// C side of the libotr harness: the OtrlMessageAppOps table, whose
// callbacks forward to Go through the cgo.Handle stored in opdata, thin
// wrappers so that Go never converts a handle into a pointer itself, and
// peer_age_lastsent, which reaches into libotr's private context state.

#include <string.h>
#include "shim.h"
#include "_cgo_export.h"

static void emit(void *opdata, peer_event *ev, ConnContext *ctx)
{
	if (ctx != NULL) {
		ev->username = ctx->username;
		ev->their_instance = ctx->their_instance;
	}
	libotrpeerEvent((uintptr_t)opdata, ev);
}

static OtrlPolicy cb_policy(void *opdata, ConnContext *ctx)
{
	return libotrpeerPolicy((uintptr_t)opdata);
}

static int cb_is_logged_in(void *opdata, const char *account,
	const char *protocol, const char *recipient)
{
	return 1;
}

static void cb_inject(void *opdata, const char *account, const char *protocol,
	const char *recipient, const char *message)
{
	libotrpeerInject((uintptr_t)opdata, (char *)recipient, (char *)message);
}

static void cb_new_fingerprint(void *opdata, OtrlUserState us,
	const char *account, const char *protocol, const char *username,
	unsigned char fingerprint[20])
{
	char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
	peer_event ev = {0};

	otrl_privkey_hash_to_human(human, fingerprint);
	ev.kind = PEER_EV_NEW_FINGERPRINT;
	ev.username = username;
	ev.text = human;
	emit(opdata, &ev, NULL);
}

static void cb_gone_secure(void *opdata, ConnContext *ctx)
{
	peer_event ev = {0};
	ev.kind = PEER_EV_GONE_SECURE;
	emit(opdata, &ev, ctx);
}

static void cb_gone_insecure(void *opdata, ConnContext *ctx)
{
	peer_event ev = {0};
	ev.kind = PEER_EV_GONE_INSECURE;
	emit(opdata, &ev, ctx);
}

static void cb_still_secure(void *opdata, ConnContext *ctx, int is_reply)
{
	peer_event ev = {0};
	ev.kind = PEER_EV_STILL_SECURE;
	ev.is_reply = is_reply;
	emit(opdata, &ev, ctx);
}

static int cb_max_message_size(void *opdata, ConnContext *ctx)
{
	return libotrpeerMaxMessageSize((uintptr_t)opdata);
}

static void cb_received_symkey(void *opdata, ConnContext *ctx,
	unsigned int use, const unsigned char *usedata, size_t usedatalen,
	const unsigned char *symkey)
{
	peer_event ev = {0};
	ev.kind = PEER_EV_SYMKEY;
	ev.use = use;
	ev.data = usedata;
	ev.datalen = usedatalen;
	ev.key = symkey;
	emit(opdata, &ev, ctx);
}

static const char *cb_otr_error_message(void *opdata, ConnContext *ctx,
	OtrlErrorCode code)
{
	switch (code) {
	case OTRL_ERRCODE_ENCRYPTION_ERROR:
		return strdup("Error occurred encrypting message.");
	case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE:
		return strdup("You sent encrypted data to a peer who wasn't expecting it.");
	case OTRL_ERRCODE_MSG_UNREADABLE:
		return strdup("You transmitted an unreadable encrypted message.");
	case OTRL_ERRCODE_MSG_MALFORMED:
		return strdup("You transmitted a malformed data message.");
	default:
		return strdup("Unknown error.");
	}
}

static void cb_otr_error_message_free(void *opdata, const char *msg)
{
	free((void *)msg);
}

static void cb_handle_smp_event(void *opdata, OtrlSMPEvent smp_event,
	ConnContext *ctx, unsigned short progress, char *question)
{
	peer_event ev = {0};
	ev.kind = PEER_EV_SMP;
	ev.code = smp_event;
	ev.progress = progress;
	ev.text = question;
	emit(opdata, &ev, ctx);
}

static void cb_handle_msg_event(void *opdata, OtrlMessageEvent msg_event,
	ConnContext *ctx, const char *message, gcry_error_t err)
{
	peer_event ev = {0};
	ev.kind = PEER_EV_MSG;
	ev.code = msg_event;
	ev.text = message;
	ev.err = err;
	emit(opdata, &ev, ctx);
}

// convert_msg is called after a data message was decrypted: the harness
// uses it to tell encrypted deliveries from plaintext ones.
static void cb_convert_msg(void *opdata, ConnContext *ctx,
	OtrlConvertType t, char **dest, const char *src)
{
	*dest = NULL;
	if (t == OTRL_CONVERT_RECEIVING) {
		libotrpeerDecrypted((uintptr_t)opdata);
	}
}

static void cb_convert_free(void *opdata, ConnContext *ctx, char *dest)
{
	free(dest);
}

static const OtrlMessageAppOps ops = {
	.policy = cb_policy,
	.is_logged_in = cb_is_logged_in,
	.inject_message = cb_inject,
	.new_fingerprint = cb_new_fingerprint,
	.gone_secure = cb_gone_secure,
	.gone_insecure = cb_gone_insecure,
	.still_secure = cb_still_secure,
	.max_message_size = cb_max_message_size,
	.received_symkey = cb_received_symkey,
	.otr_error_message = cb_otr_error_message,
	.otr_error_message_free = cb_otr_error_message_free,
	.handle_smp_event = cb_handle_smp_event,
	.handle_msg_event = cb_handle_msg_event,
	.convert_msg = cb_convert_msg,
	.convert_free = cb_convert_free,
};

gcry_error_t peer_init(void)
{
	return otrl_init(OTRL_VERSION_MAJOR, OTRL_VERSION_MINOR,
		OTRL_VERSION_SUB);
}

gcry_error_t peer_sending(OtrlUserState us, uintptr_t h, const char *account,
	const char *protocol, const char *recipient, otrl_instag_t instag,
	const char *msg, char **out)
{
	return otrl_message_sending(us, &ops, (void *)h, account, protocol,
		recipient, instag, msg, NULL, out, OTRL_FRAGMENT_SEND_ALL,
		NULL, NULL, NULL);
}

int peer_receiving(OtrlUserState us, uintptr_t h, const char *account,
	const char *protocol, const char *sender, const char *msg,
	char **newmsg, OtrlTLV **tlvs)
{
	return otrl_message_receiving(us, &ops, (void *)h, account, protocol,
		sender, msg, newmsg, tlvs, NULL, NULL, NULL);
}

void peer_disconnect_all(OtrlUserState us, uintptr_t h, const char *account,
	const char *protocol, const char *user)
{
	otrl_message_disconnect_all_instances(us, &ops, (void *)h, account,
		protocol, user);
}

void peer_disconnect(OtrlUserState us, uintptr_t h, const char *account,
	const char *protocol, const char *user, otrl_instag_t instag)
{
	otrl_message_disconnect(us, &ops, (void *)h, account, protocol, user,
		instag);
}

void peer_smp_start(OtrlUserState us, uintptr_t h, ConnContext *ctx,
	const char *question, const unsigned char *secret, size_t secretlen)
{
	if (question != NULL) {
		otrl_message_initiate_smp_q(us, &ops, (void *)h, ctx, question,
			secret, secretlen);
	} else {
		otrl_message_initiate_smp(us, &ops, (void *)h, ctx, secret,
			secretlen);
	}
}

void peer_smp_respond(OtrlUserState us, uintptr_t h, ConnContext *ctx,
	const unsigned char *secret, size_t secretlen)
{
	otrl_message_respond_smp(us, &ops, (void *)h, ctx, secret, secretlen);
}

void peer_smp_abort(OtrlUserState us, uintptr_t h, ConnContext *ctx)
{
	otrl_message_abort_smp(us, &ops, (void *)h, ctx);
}

gcry_error_t peer_symkey(OtrlUserState us, uintptr_t h, ConnContext *ctx,
	unsigned int use, const unsigned char *usedata, size_t usedatalen,
	unsigned char *symkey)
{
	return otrl_message_symkey(us, &ops, (void *)h, ctx, use, usedata,
		usedatalen, symkey);
}

void peer_poll(OtrlUserState us, uintptr_t h)
{
	otrl_message_poll(us, &ops, (void *)h);
}

// peer_age_lastsent moves context_priv->lastsent (libotr's time(NULL) of
// the last data message it sent) of the master context m and of each of
// its instance contexts back by seconds, and returns how many contexts it
// changed. libotr then sees its last sending that much older, as after a
// pause in real time.
int peer_age_lastsent(ConnContext *m, long seconds)
{
	ConnContext *c;
	int n = 0;

	for (c = m; c != NULL && c->m_context == m; c = c->next) {
		if (c->context_priv != NULL) {
			c->context_priv->lastsent -= (time_t)seconds;
			n++;
		}
	}
	return n;
}
