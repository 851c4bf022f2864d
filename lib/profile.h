/* profile.h: the High Performance VM profile: what it refuses, what it applies, what it suggests. */
#pragma once

#include <stdbool.h>

#include "domxml.h"
#include "util.h"

/*
 * Why the domain is a Windows guest, as a short phrase for a message
 * ("<features><hyperv> is set"), or NULL when nothing says so. Looks at
 * libosinfo metadata, Hyper-V enlightenments and the Hyper-V clock.
 */
const char *hpvm_profile_windows_reason(const HpvmDomain *d);

/*
 * Refusals of the profile for this domain, before anything changes: a
 * Windows guest, and devices that need USB (which the profile turns off) but
 * cannot be removed: USB host devices, USB disks, USB serial ports
 * (<serial><target type='usb-serial'>), and any other device on a USB
 * address the profile would keep. Returns 0 or -EINVAL with the message in
 * @err (one line naming the device).
 */
int hpvm_profile_check(const HpvmDomain *d, HpvmError *err);

/*
 * Apply the profile: headless (graphics, SPICE channels, USB redirection and
 * its filter, smartcards and CCID controllers removed; video model none; a
 * pty serial console if the VM has no serial console), USB off (one
 * <controller type='usb' model='none'/>, USB input devices and hubs removed),
 * no sound or audio, no watchdog, <memballoon model='none'/>, <cpu
 * mode='host-passthrough'> keeping its topology, features and NUMA cells,
 * and <iothreads>1</iothreads> unless @keep_iothreads or the VM has some.
 * invtsc is the caller's. Idempotent. Returns 0 or -ENOMEM.
 */
int hpvm_profile_apply(HpvmDomain *d, bool keep_iothreads);

/*
 * After all edits: one warning block listing each manual setting the
 * document still lacks for near bare-metal speed, with the property that sets it.
 */
void hpvm_profile_suggest(const HpvmDomain *d, HpvmWarnings *warn);
