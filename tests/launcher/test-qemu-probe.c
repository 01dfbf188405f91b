/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the command line a plan starts QEMU with: every class of option kept, rewritten or
 * left out, and the notes that say so. */
#include "qpin-check.h"
#include "qpin-qemu-probe.h"

#include <string.h>

/* The probe of @user as one space-separated string, and its note kinds in @kinds. */
static char *probe(const char *const *user, char **kinds)
{
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_note_free);
    g_autoptr(GPtrArray) argv = qpin_qemu_argv_probe((char *const *)user, notes);
    GString *k = g_string_new(NULL);
    for (guint i = 0; i < notes->len; i++)
        g_string_append_printf(k, "%s%s", i ? " " : "", ((QpinNote *)notes->pdata[i])->kind);
    *kinds = g_string_free(k, FALSE);
    return g_strjoinv(" ", (char **)argv->pdata);
}

#define TAIL " -accel tcg,thread=multi -nodefaults -display none"

START_TEST(test_probe_classes)
{
    static const struct {
        const char *user[32];
        const char *want;
        const char *kinds;
    } cases[] = {
        /* Shape options pass unchanged. */
        {{"qemu-system-x86_64", "-smp", "4,sockets=2", "-m", "1G", "-name", "vm", NULL},
         "qemu-system-x86_64 -smp 4,sockets=2 -m 1G -name vm" TAIL,
         ""},
        {{"qemu-system-x86_64", "-numa", "node,nodeid=0", "-numa", "dist,src=0,dst=1,val=20", NULL},
         "qemu-system-x86_64 -numa node,nodeid=0 -numa dist,src=0,dst=1,val=20" TAIL,
         ""},
        /* The accelerator: KVM goes, TCG comes, with a note. */
        {{"qemu-system-x86_64", "-enable-kvm", "-smp", "2", NULL},
         "qemu-system-x86_64 -smp 2" TAIL,
         "probe-tcg"},
        {{"qemu-system-x86_64", "-accel", "kvm,kernel-irqchip=split", NULL},
         "qemu-system-x86_64" TAIL,
         "probe-tcg"},
        {{"qemu-system-x86_64", "--machine", "q35,accel=kvm:tcg,smm=off", NULL},
         "qemu-system-x86_64 --machine q35,smm=off" TAIL,
         "probe-tcg"},
        {{"qemu-system-x86_64", "-machine", "accel=kvm", "-smp", "2", NULL},
         "qemu-system-x86_64 -smp 2" TAIL,
         "probe-tcg"},
        {{"qemu-system-x86_64", "-M", "pc", "-accel", "tcg", NULL},
         "qemu-system-x86_64 -M pc" TAIL,
         ""},
        /* CPU models: host is KVM's alone. */
        {{"qemu-system-x86_64", "-cpu", "host,+invtsc,migratable=no", NULL},
         "qemu-system-x86_64 -cpu max,vendor=GenuineIntel" TAIL,
         "probe-cpu"},
        {{"qemu-system-x86_64", "-cpu", "Skylake-Server,-hle", NULL},
         "qemu-system-x86_64 -cpu Skylake-Server,-hle" TAIL,
         ""},
        {{"qemu-system-x86_64", "-device", "host-x86_64-cpu,socket-id=1,core-id=0,thread-id=0",
          "-device", "driver=qemu64-x86_64-cpu,core-id=1", NULL},
         "qemu-system-x86_64 -device max-x86_64-cpu,socket-id=1,core-id=0,thread-id=0 -device "
         "driver=qemu64-x86_64-cpu,core-id=1" TAIL,
         "probe-cpu"},
        /* Objects: memory backends become RAM never allocated; iothreads stay; others go. */
        {{"qemu-system-x86_64", "-object",
          "memory-backend-file,id=m0,size=4G,mem-path=/dev/hugepages,host-nodes=1,policy=bind",
          "-object", "{\"qom-type\":\"memory-backend-memfd\",\"id\":\"m1\",\"size\":1073741824}",
          "-object", "iothread,id=io0,poll-max-ns=32768", "-object", "secret,id=s0,data=x",
          "-object", "thread-context,id=tc,node-affinity=1", NULL},
         "qemu-system-x86_64 -object memory-backend-ram,id=m0,size=4G,reserve=off -object "
         "memory-backend-ram,id=m1,size=1073741824,reserve=off -object iothread,id=io0" TAIL,
         "probe-memory probe-dropped"},
        /* Disks, network, devices, kernel, display, chardevs, monitors, serial, firmware. */
        {{"qemu-system-x86_64",
          "-drive",
          "file=/absent.qcow2,if=virtio",
          "disk.img",
          "-netdev",
          "user,id=n0",
          "-device",
          "virtio-net-pci,netdev=n0",
          "-kernel",
          "/boot/absent",
          "-append",
          "-smp 99",
          "-nographic",
          "-chardev",
          "socket,id=c,path=/x",
          "-serial",
          "stdio",
          "-qmp",
          "unix:/x,server",
          "-bios",
          "/absent.fd",
          "-smp",
          "2",
          NULL},
         "qemu-system-x86_64 -smp 2" TAIL,
         "probe-dropped"},
        /* -nodefaults and -display are the probe's own: replaced, not named as dropped. */
        {{"qemu-system-x86_64", "-nodefaults", "-display", "gtk", "-smp", "2", NULL},
         "qemu-system-x86_64 -smp 2" TAIL,
         ""},
        /* A wrapper is not part of the probe: its options name this host's nodes or not. */
        {{"numactl", "--membind=1", "qemu-system-x86_64", "-smp", "2", NULL},
         "qemu-system-x86_64 -smp 2" TAIL,
         ""},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *kinds = NULL;
        g_autofree char *got = probe(cases[i].user, &kinds);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu:\n got  %s\n want %s", i, got,
                      cases[i].want);
        ck_assert_msg(strcmp(kinds, cases[i].kinds) == 0, "case %zu: notes '%s', want '%s'", i,
                      kinds, cases[i].kinds);
    }
}
END_TEST

START_TEST(test_probe_dropped_note_names_options)
{
    const char *user[] = {
        "qemu-system-x86_64", "-drive", "file=a", "-drive", "file=b", "-vnc", ":0", NULL};
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_note_free);
    g_autoptr(GPtrArray) argv = qpin_qemu_argv_probe((char *const *)user, notes);
    ck_assert_uint_eq(notes->len, 1);
    const QpinNote *note = notes->pdata[0];
    ck_assert_str_eq(note->kind, QPIN_NOTE_PROBE_DROPPED);
    /* Each option once, in order. */
    ck_assert_msg(g_str_has_suffix(note->text, ": -drive -vnc"), "%s", note->text);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("qemu-probe");
    TCase *tc = tcase_create("probe");
    tcase_add_test(tc, test_probe_classes);
    tcase_add_test(tc, test_probe_dropped_note_names_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
