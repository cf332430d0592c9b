// Declarations shared by the cgo preamble and shim.c. Only declarations
// may live here: files with //export directives forbid C definitions in
// their preamble.

#ifndef LIBOTRPEER_SHIM_H
#define LIBOTRPEER_SHIM_H

#include <stdint.h>
#include <stdlib.h>
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/context.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/tlv.h>

enum {
	PEER_EV_GONE_SECURE = 1,
	PEER_EV_GONE_INSECURE,
	PEER_EV_STILL_SECURE,
	PEER_EV_NEW_FINGERPRINT,
	PEER_EV_MSG,
	PEER_EV_SMP,
	PEER_EV_SYMKEY
};

// peer_event carries one callback from libotr to Go. Pointers are only
// valid during the call.
typedef struct {
	int kind;
	const char *username;
	unsigned int their_instance;
	int code;
	int progress;
	int is_reply;
	unsigned int err;
	const char *text;
	const unsigned char *data;
	size_t datalen;
	const unsigned char *key;
	unsigned int use;
} peer_event;

gcry_error_t peer_init(void);
gcry_error_t peer_sending(OtrlUserState us, uintptr_t h, const char *account,
	const char *protocol, const char *recipient, otrl_instag_t instag,
	const char *msg, char **out);
int peer_receiving(OtrlUserState us, uintptr_t h, const char *account,
	const char *protocol, const char *sender, const char *msg,
	char **newmsg, OtrlTLV **tlvs);
void peer_disconnect_all(OtrlUserState us, uintptr_t h, const char *account,
	const char *protocol, const char *user);
void peer_disconnect(OtrlUserState us, uintptr_t h, const char *account,
	const char *protocol, const char *user, otrl_instag_t instag);
void peer_smp_start(OtrlUserState us, uintptr_t h, ConnContext *ctx,
	const char *question, const unsigned char *secret, size_t secretlen);
void peer_smp_respond(OtrlUserState us, uintptr_t h, ConnContext *ctx,
	const unsigned char *secret, size_t secretlen);
void peer_smp_abort(OtrlUserState us, uintptr_t h, ConnContext *ctx);
gcry_error_t peer_symkey(OtrlUserState us, uintptr_t h, ConnContext *ctx,
	unsigned int use, const unsigned char *usedata, size_t usedatalen,
	unsigned char *symkey);
void peer_poll(OtrlUserState us, uintptr_t h);
int peer_age_lastsent(ConnContext *m, long seconds);

#endif
