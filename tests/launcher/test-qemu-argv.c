/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the QEMU command line qpin builds: escaping, -name merging, pass-through, and what
 * actually reaches an exec'ed program. */
#include "qpin-error.h"
#include "qpin-qemu-argv.h"
#include "qpin-check.h"
#include "qpin-process.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(test_escape)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"a,b", "a,,b"},
        {",", ",,"},
        {"a,,b", "a,,,,b"},
        {"x=1,y=2", "x=1,,y=2"},
        {"sp ace $(x) ; 'q' \"d\"", "sp ace $(x) ; 'q' \"d\""},
        {"/path/with,comma/file", "/path/with,,comma/file"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = NULL;
        g_autofree char *out = qpin_qemu_escape(cases[i].in, "value", &error);
        ck_assert_msg(out, "'%s': %s", cases[i].in, error ? error->message : "?");
        ck_assert_str_eq(out, cases[i].out);
    }
}
END_TEST

START_TEST(test_escape_rejects_line_breaks)
{
    const char *bad[] = {"a\nb", "\n", "a\rb"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *error = NULL;
        char *out = qpin_qemu_escape(bad[i], "--thing", &error);
        ck_assert_ptr_null(out);
        ck_assert_ptr_nonnull(error);
        ck_assert_int_eq(error->code, QPIN_ERROR_USAGE);
        ck_assert_msg(strstr(error->message, "--thing"), "%s", error->message);
        g_error_free(error);
    }
}
END_TEST

START_TEST(test_name_value)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"vmm", "vmm,debug-threads=on"},
        {"vmm,process=vmm", "vmm,process=vmm,debug-threads=on"},
        {"guest=vmm,process=vmm", "guest=vmm,process=vmm,debug-threads=on"},
        {"vmm,process=vmm,debug-threads=on", "vmm,process=vmm,debug-threads=on"},
        {"vmm,debug-threads=off,process=p", "vmm,debug-threads=on,process=p"},
        {"vmm,nodebug-threads", "vmm,debug-threads=on"},
        {"vmm,debug-threads", "vmm,debug-threads=on"},
        /* An escaped comma is part of the name, not a separator. */
        {"a,,b c\"d", "a,,b c\"d,debug-threads=on"},
        {"a,,debug-threads=off", "a,,debug-threads=off,debug-threads=on"},
        /* The implied first item is the name, whatever it spells. */
        {"debug-threads", "debug-threads,debug-threads=on"},
        {"vmm,", "vmm,debug-threads=on"},
        {"", "debug-threads=on"},
        {"$(x) ; 'y'", "$(x) ; 'y',debug-threads=on"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *out = qpin_qemu_name_value(cases[i].in);
        ck_assert_msg(!strcmp(out, cases[i].out), "'%s' -> '%s', expected '%s'", cases[i].in, out,
                      cases[i].out);
    }
}
END_TEST

static GPtrArray *build(const char *const *user, GError **error)
{
    return qpin_qemu_argv_build((char *const *)user, 7, error);
}

START_TEST(test_build_adds_and_passes_through)
{
    const char *user[] = {"qemu-system-x86_64",
                          "-smp",
                          "4,sockets=1",
                          "-append",
                          "console=ttyS0 a=$(x);b 'q' \"d\"",
                          "-m",
                          "1G",
                          "",
                          NULL};
    GError *error = NULL;
    g_autoptr(GPtrArray) argv = build(user, &error);
    ck_assert_msg(argv, "%s", error ? error->message : "?");
    const char *expected[] = {"qemu-system-x86_64",
                              "-S",
                              "-chardev",
                              "socket,id=qpin-qmp,fd=7",
                              "-mon",
                              "chardev=qpin-qmp,mode=control",
                              "-name",
                              "debug-threads=on",
                              "-smp",
                              "4,sockets=1",
                              "-append",
                              "console=ttyS0 a=$(x);b 'q' \"d\"",
                              "-m",
                              "1G",
                              "",
                              NULL};
    ck_assert_uint_eq(argv->len, G_N_ELEMENTS(expected) - 1);
    for (guint i = 0; i < argv->len; i++)
        ck_assert_str_eq(argv->pdata[i], expected[i]);
    ck_assert_ptr_null(g_ptr_array_index(argv, argv->len) ? argv->pdata[argv->len] : NULL);
}
END_TEST

START_TEST(test_build_merges_name)
{
    const char *user[] = {"qemu", "-name", "first", "--name", "vmm,process=vmm", "-S", NULL};
    GError *error = NULL;
    g_autoptr(GPtrArray) argv = build(user, &error);
    ck_assert_msg(argv, "%s", error ? error->message : "?");
    g_autofree char *joined = g_strjoinv("|", (char **)argv->pdata);
    ck_assert_str_eq(joined, "qemu|-S|-chardev|socket,id=qpin-qmp,fd=7|-mon|"
                             "chardev=qpin-qmp,mode=control|-name|first|--name|"
                             "vmm,process=vmm,debug-threads=on|-S");
}
END_TEST

START_TEST(test_build_refuses)
{
    const char *daemonize[] = {"qemu", "-m", "1G", "-daemonize", NULL};
    const char *empty[] = {NULL};
    const char *blank[] = {"", NULL};
    const char *const *cases[] = {daemonize, empty, blank};
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = NULL;
        GPtrArray *argv = build(cases[i], &error);
        ck_assert_ptr_null(argv);
        ck_assert_int_eq(error->code, QPIN_ERROR_USAGE);
        g_error_free(error);
    }
}
END_TEST

START_TEST(test_find)
{
    const char *argv[] = {"qemu", "-m", "1G", "--m", "2G", "-mem", NULL};
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)argv, "m"), 3);
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)argv, "mem"), 5);
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)argv, "name"), -1);
    /* argv[0] is the binary, never an option. */
    const char *odd[] = {"-m", NULL};
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)odd, "m"), -1);
}
END_TEST

START_TEST(test_display)
{
    const char *argv[] = {"qemu", "-name", "a,,b c'd", "-m", "1G", "", "$(x)", NULL};
    g_autofree char *s = qpin_qemu_argv_display((char *const *)argv);
    ck_assert_str_eq(s, "qemu -name 'a,,b c'\\''d' -m 1G '' '$(x)'");
}
END_TEST

START_TEST(test_option_table)
{
    static const struct {
        const char *name;
        int has_arg; /* -1: not in the table */
    } cases[] = {
        {"m", 1},
        {"append", 1},
        {"name", 1},
        {"object", 1},
        {"D", 1},
        {"xen-domid-restrict", 0},
        {"S", 0},
        {"async-teardown", 0},
        {"no-user-config", 0},
        {"daemonize", 0},
        {"enable-kvm", 0},
        {"run-with", 1},
        {"nodefaults", 0},
        {"memory", -1},
        {"-m", -1},
        {"", -1},
        {"M", 1},
        {"mem", -1},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const QpinQemuOption *o = qpin_qemu_option_lookup(cases[i].name);
        if (cases[i].has_arg < 0) {
            ck_assert_msg(!o, "'%s' is in the table", cases[i].name);
            continue;
        }
        ck_assert_msg(o, "'%s' is not in the table", cases[i].name);
        ck_assert_str_eq(o->name, cases[i].name);
        ck_assert_int_eq(o->has_arg, cases[i].has_arg);
    }
}
END_TEST

/* "index:name=value|..." for every option of @argv. */
static char *scan(const char *const *argv, int argc)
{
    GString *out = g_string_new(NULL);
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT; qpin_qemu_argv_next((char *const *)argv, argc, &a);) {
        g_string_append_printf(out, "%s%d:%s", out->len ? "|" : "", a.index, a.name);
        if (a.value >= 0)
            g_string_append_printf(out, "=%s", argv[a.value]);
        ck_assert_ptr_eq(a.option, qpin_qemu_option_lookup(a.name));
    }
    return g_string_free(out, FALSE);
}

START_TEST(test_scan)
{
    static const struct {
        const char *argv[10];
        const char *expected;
    } cases[] = {
        /* A value is never an option, whatever it spells. */
        {{"qemu", "-append", "-name", "-m", "1G", NULL}, "1:append=-name|3:m=1G"},
        {{"qemu", "-append", "-daemonize", NULL}, "1:append=-daemonize"},
        {{"qemu", "--append", "--m", "-m", "-S", NULL}, "1:append=--m|3:m=-S"},
        /* Flags of 7.2 and later QEMU take nothing: the old table lacked -async-teardown. */
        {{"qemu", "-async-teardown", "-m", "512M", NULL}, "1:async-teardown|2:m=512M"},
        {{"qemu", "-no-user-config", "-name", "vm", NULL}, "1:no-user-config|2:name=vm"},
        {{"qemu", "-run-with", "async-teardown=on", "-S", NULL},
         "1:run-with=async-teardown=on|3:S"},
        /* Options the table lacks take the next argument unless it starts with '-'. */
        {{"qemu", "-foo-new-flag", "-m", "1G", NULL}, "1:foo-new-flag|2:m=1G"},
        {{"qemu", "-foo-new-opt", "value", "-m", "1G", NULL}, "1:foo-new-opt=value|3:m=1G"},
        {{"qemu", "-foo-new-opt", "", "-S", NULL}, "1:foo-new-opt=|3:S"},
        {{"qemu", "-foo-new-flag", NULL}, "1:foo-new-flag"},
        /* Two dashes are one; a third belongs to the name, as in QEMU's lookup_opt(). */
        {{"qemu", "--name", "vm", "---m", "x", NULL}, "1:name=vm|3:-m=x"},
        /* Other arguments are disk images to QEMU. */
        {{"qemu", "disk.img", "-hda", "-x.img", "", "-S", NULL}, "2:hda=-x.img|5:S"},
        /* A missing value at the end. */
        {{"qemu", "-S", "-m", NULL}, "1:S|2:m"},
        {{"qemu", "-", "x", "--", NULL}, "1:=x|3:"},
        {{"-m", "1G", NULL}, ""},
        {{"qemu", NULL}, ""},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *out = scan(cases[i].argv, -1);
        g_autofree char *joined = g_strjoinv(" ", (char **)cases[i].argv);
        ck_assert_msg(strcmp(out, cases[i].expected) == 0, "'%s' -> '%s', expected '%s'", joined,
                      out, cases[i].expected);
    }
    /* @argc bounds an array without NULL: the value past it is not read. */
    const char *words[] = {"qemu", "-m", "1G", "-name", "vm"};
    g_autofree char *bounded = scan(words, 4);
    ck_assert_str_eq(bounded, "1:m=1G|3:name");
    const char *holed[] = {"qemu", "-m", NULL, "-name", "vm", NULL};
    g_autofree char *stopped = scan(holed, 5);
    ck_assert_str_eq(stopped, "1:m");
    const char *none[] = {NULL};
    g_autofree char *nothing = scan(none, -1);
    ck_assert_str_eq(nothing, "");
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)none, "m"), -1);
    /* After the end, the end again. */
    const char *one[] = {"qemu", "-S", NULL};
    QpinQemuArg a = QPIN_QEMU_ARG_INIT;
    ck_assert(qpin_qemu_argv_next((char *const *)one, -1, &a));
    ck_assert(!qpin_qemu_argv_next((char *const *)one, -1, &a));
    ck_assert(!qpin_qemu_argv_next((char *const *)one, -1, &a));
    ck_assert(!qpin_qemu_argv_next((char *const *)one, 0, &a));
}
END_TEST

START_TEST(test_find_skips_values)
{
    const char *append[] = {"qemu", "-append", "-name", NULL};
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)append, "name"), -1);
    const char *twice[] = {"qemu", "--name", "a", "-append", "-name", "-S", NULL};
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)twice, "name"), 1);
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)twice, "S"), 5);
    const char *unknown[] = {"qemu", "-foo-new-opt", "-m", "-foo-new-opt", "m", "-m", NULL};
    ck_assert_int_eq(qpin_qemu_argv_find((char *const *)unknown, "m"), 5);
}
END_TEST

static char *build_joined(const char *const *user)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) argv = build(user, &error);
    ck_assert_msg(argv, "%s", error ? error->message : "?");
    /* Past qpin's own "-S -chardev ... -mon ..." */
    return g_strjoinv("|", (char **)argv->pdata + 6);
}

START_TEST(test_build_option_values)
{
    /* -append's "-daemonize" is the kernel's, not QEMU's; its "-name" is no -name. */
    const char *daemonize[] = {"qemu", "-append", "-daemonize", NULL};
    g_autofree char *a = build_joined(daemonize);
    ck_assert_str_eq(a, "-name|debug-threads=on|-append|-daemonize");
    const char *name[] = {"qemu", "-name", "vm", "-append", "-name", NULL};
    g_autofree char *b = build_joined(name);
    ck_assert_str_eq(b, "-name|vm,debug-threads=on|-append|-name");
    const char *only[] = {"qemu", "-append", "-name", NULL};
    g_autofree char *c = build_joined(only);
    ck_assert_str_eq(c, "-name|debug-threads=on|-append|-name");
    /* The value of the last real -name is merged, behind a flag the old table lacked. */
    const char *flags[] = {"qemu", "-no-user-config", "--name", "vm", "-async-teardown", NULL};
    g_autofree char *d = build_joined(flags);
    ck_assert_str_eq(d, "-no-user-config|--name|vm,debug-threads=on|-async-teardown");
    /* Unknown options pass through; an unknown one at the end needs nothing. */
    const char *unknown[] = {"qemu", "-foo-new-opt", "value", "-foo-new-flag", NULL};
    g_autofree char *e = build_joined(unknown);
    ck_assert_str_eq(e, "-name|debug-threads=on|-foo-new-opt|value|-foo-new-flag");
}
END_TEST

START_TEST(test_build_missing_value)
{
    static const char *const cases[][5] = {
        {"qemu", "-m", NULL},
        {"qemu", "-S", "--name", NULL},
        {"qemu", "-append", "-x", "-kernel", NULL},
    };
    static const char *const named[] = {"-m", "--name", "-kernel"};
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = NULL;
        GPtrArray *argv = build(cases[i], &error);
        ck_assert_ptr_null(argv);
        ck_assert_int_eq(error->domain, QPIN_ERROR);
        ck_assert_int_eq(error->code, QPIN_ERROR_USAGE);
        g_autofree char *needle = g_strdup_printf("option %s needs a value", named[i]);
        ck_assert_msg(strstr(error->message, needle), "%s", error->message);
        g_error_free(error);
    }
}
END_TEST

/* Masks @argv and compares the result, element by element, with @expected. */
static void mask_check(const char *const *argv, const char *const *expected)
{
    g_auto(GStrv) out = qpin_qemu_argv_mask_secrets((char *const *)argv);
    ck_assert_uint_eq(g_strv_length(out), g_strv_length((char **)expected));
    for (int i = 0; expected[i]; i++)
        ck_assert_msg(strcmp(out[i], expected[i]) == 0, "[%d] '%s' -> '%s', expected '%s'", i,
                      argv[i], out[i], expected[i]);
}

START_TEST(test_mask_secrets)
{
    static const struct {
        const char *argv[8];
        const char *expected[8];
    } cases[] = {
        {{"qemu", "-object", "secret,id=s0,data=XYZ", NULL},
         {"qemu", "-object", "secret,id=s0,data=***", NULL}},
        {{"qemu", "--object", "qom-type=secret,data=a,,b,,c,format=raw,id=s0", NULL},
         {"qemu", "--object", "qom-type=secret,data=***,format=raw,id=s0", NULL}},
        {{"qemu", "-object", "secret,id=s0,data=p,", NULL},
         {"qemu", "-object", "secret,id=s0,data=***,", NULL}},
        {{"qemu", "-object", "secret,id=s0,data=", NULL},
         {"qemu", "-object", "secret,id=s0,data=***", NULL}},
        /* A ",," in the id swallows what looks like data=: QEMU reads one id. */
        {{"qemu", "-object", "secret,id=s0,,data=x", NULL},
         {"qemu", "-object", "secret,id=s0,,data=x", NULL}},
        /* data= of other objects, and secret files, are no secrets. */
        {{"qemu", "-object", "secret,id=s0,file=/run/pw", "-object", "other,data=x", NULL},
         {"qemu", "-object", "secret,id=s0,file=/run/pw", "-object", "other,data=x", NULL}},
        {{"qemu", "-object", "secret_keyring,id=k,serial=1", "-device", "x,data=1", NULL},
         {"qemu", "-object", "secret_keyring,id=k,serial=1", "-device", "x,data=1", NULL}},
        {{"qemu", "-spice", "port=5900,password=p,,w,,x,disable-ticketing=off", NULL},
         {"qemu", "-spice", "port=5900,password=***,disable-ticketing=off", NULL}},
        /* On and off are switches; ids of secret objects are not secrets. */
        {{"qemu", "-vnc", ":0,password=on,password-secret=s0", "-vnc", ":1,password=off", NULL},
         {"qemu", "-vnc", ":0,password=on,password-secret=s0", "-vnc", ":1,password=off", NULL}},
        {{"qemu", "-object", "tls-creds-x509,id=t,passwordid=s0,dir=/d", NULL},
         {"qemu", "-object", "tls-creds-x509,id=t,passwordid=s0,dir=/d", NULL}},
        {{"qemu", "-drive", "file.password=pw,file.user=u,file=x", "-iscsi", "password=a", NULL},
         {"qemu", "-drive", "file.password=***,file.user=u,file=x", "-iscsi", "password=***",
          NULL}},
        {{"qemu", "-chardev", "socket,id=c,proxy-password=pw,PASSWORD=P", NULL},
         {"qemu", "-chardev", "socket,id=c,proxy-password=***,PASSWORD=***", NULL}},
        /* Only option values: the binary and disk images stay, and so does a value that merely
         * looks like an option. */
        {{"password=x", "password=y", "-append", "-object", "secret,data=z", NULL},
         {"password=x", "password=y", "-append", "-object", "secret,data=z", NULL}},
        {{"qemu", "-append", "root=/dev/vda password=x", "-name", "password=n", NULL},
         {"qemu", "-append", "root=/dev/vda password=x", "-name", "password=***", NULL}},
        /* -set and -global: everything after '=' is the value, commas included. */
        {{"qemu", "-set", "drive.d0.password=a,b", "-global", "dev.password=c,d", NULL},
         {"qemu", "-set", "drive.d0.password=***", "-global", "dev.password=***", NULL}},
        {{"qemu", "-set", "object.s0.data=x,y", "-global", "dev.data=1", NULL},
         {"qemu", "-set", "object.s0.data=***", "-global", "dev.data=1", NULL}},
        /* Unknown options' values too; a trailing option without value is left alone. */
        {{"qemu", "-foo-new-opt", "password=x", "-object", NULL},
         {"qemu", "-foo-new-opt", "password=***", "-object", NULL}},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
        mask_check(cases[i].argv, cases[i].expected);
    ck_assert_ptr_null(qpin_qemu_argv_mask_secrets(NULL));
    const char *none[] = {NULL};
    mask_check(none, none);
}
END_TEST

START_TEST(test_mask_secrets_json)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"{\"qom-type\":\"secret\",\"id\":\"s0\",\"data\":\"XYZ\"}",
         "{\"qom-type\":\"secret\",\"id\":\"s0\",\"data\":\"***\"}"},
        /* Any order, any spacing, escapes inside strings. */
        {"{ \"data\" : \"a\\\"b,c}\" , \"id\":\"s0\",\n \"qom-type\": \"secret\" }",
         "{ \"data\" : \"***\" , \"id\":\"s0\",\n \"qom-type\": \"secret\" }"},
        {"{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\",\"data\":\"x\"}",
         "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\",\"data\":\"x\"}"},
        /* A "secret" that is a value of another key, or nested, is no secret object. */
        {"{\"qom-type\":\"x\",\"id\":\"secret\",\"o\":{\"qom-type\":\"secret\",\"data\":\"d\"}}",
         "{\"qom-type\":\"x\",\"id\":\"secret\",\"o\":{\"qom-type\":\"secret\",\"data\":\"d\"}}"},
        /* Password members at any depth, in arrays too; booleans stay. */
        {"{\"driver\":\"x\",\"server\":{\"password\":\"p\",\"a\":[{\"proxy-password\":7}]},"
         "\"password\":true,\"password-secret\":\"s\"}",
         "{\"driver\":\"x\",\"server\":{\"password\":\"***\",\"a\":[{\"proxy-password\":\"***\"}]},"
         "\"password\":true,\"password-secret\":\"s\"}"},
        {"{}", "{}"},
        /* Not JSON: read as QemuOpts, so the password still goes. */
        {"{\"qom-type\":\"secret\",\"data\":\"x\"", "{\"qom-type\":\"secret\",\"data\":\"x\""},
        {"{oops,password=pw", "{oops,password=***"},
        {"{\"a\":1} trailing,password=pw", "{\"a\":1} trailing,password=***"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *argv[] = {"qemu", "-object", cases[i].in, NULL};
        const char *expected[] = {"qemu", "-object", cases[i].out, NULL};
        mask_check(argv, expected);
    }
}
END_TEST

/* What arrives at the exec'ed program, byte for byte, and which descriptors it inherits. */
START_TEST(test_exec_receives_exact_argv)
{
    g_autofree char *dir = g_dir_make_tmp("qpin-argv-XXXXXX", NULL);
    g_autofree char *dump = g_build_filename(dir, "dump", NULL);
    g_setenv("QPIN_ARGV_DUMP", dump, TRUE);
    g_setenv("QPIN_ARGV_DUMP_STATUS", "0", TRUE);
    const char *stand_in = g_getenv("QPIN_ARGV_DUMP_BIN");
    ck_assert_ptr_nonnull(stand_in);

    const char *values[] = {
        "a,,b c\"d", "x=1,y=2",  "with space", "$(touch /tmp/qpin-never)",
        "a;b",       "'single'", "\"double\"", "back\\slash",
        "*",         "~",        "",           "new\nline",
    };
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add(b, stand_in);
    g_strv_builder_add(b, "-name");
    g_strv_builder_add(b, "a,,b c\"d");
    for (gsize i = 0; i < G_N_ELEMENTS(values); i++) {
        g_strv_builder_add(b, "-arg");
        g_strv_builder_add(b, values[i]);
    }
    g_auto(GStrv) user = g_strv_builder_end(b);

    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    int stray = open("/dev/null", O_RDONLY | O_CLOEXEC);
    GError *error = NULL;
    g_autoptr(GPtrArray) argv = qpin_qemu_argv_build(user, fds[1], &error);
    ck_assert_msg(argv, "%s", error ? error->message : "?");
    g_autoptr(QpinQemu) child = qpin_qemu_spawn((char **)argv->pdata, fds[1], &error);
    ck_assert_msg(child, "%s", error ? error->message : "?");
    ck_assert(qpin_qemu_reap(child, TRUE));
    ck_assert_int_eq(qpin_wait_status_exit_code(child->status), 0);

    g_autofree char *data = NULL;
    gsize len = 0;
    ck_assert(g_file_get_contents(dump, &data, &len, NULL));
    /* Split the NUL-separated records. */
    g_autoptr(GPtrArray) got = g_ptr_array_new();
    for (gsize off = 0; off < len;) {
        g_ptr_array_add(got, data + off);
        off += strlen(data + off) + 1;
    }
    guint n = argv->len;
    ck_assert_uint_ge(got->len, n + 1);
    for (guint i = 0; i < n; i++)
        ck_assert_str_eq(got->pdata[i], argv->pdata[i]);
    ck_assert_str_eq(got->pdata[n], "");
    /* The -name value gets debug-threads merged in; every other value is the user's. */
    ck_assert_str_eq(got->pdata[6], "-name");
    ck_assert_str_eq(got->pdata[7], "a,,b c\"d,debug-threads=on");
    for (gsize i = 0; i < G_N_ELEMENTS(values); i++)
        ck_assert_str_eq(got->pdata[9 + 2 * i], values[i]);

    /* Descriptors: the QMP end, and whatever the test process itself holds without
     * close-on-exec (qpin passes on what it inherited, e.g. for -add-fd); never a
     * close-on-exec descriptor such as qpin's own end or the stray one. */
    g_auto(GStrv) fdlist = g_strsplit(got->len > n + 1 ? got->pdata[n + 1] : "", "\n", -1);
    gboolean has_qmp = FALSE;
    for (int i = 0; fdlist[i]; i++) {
        if (!*fdlist[i])
            continue;
        int fd = atoi(fdlist[i]);
        if (fd == fds[1]) {
            has_qmp = TRUE;
            continue;
        }
        ck_assert_msg(fd != fds[0] && fd != stray, "close-on-exec descriptor %d leaked", fd);
        int flags = fcntl(fd, F_GETFD);
        ck_assert_msg(flags >= 0 && !(flags & FD_CLOEXEC),
                      "descriptor %d reached the child but is not inherited by the test", fd);
    }
    ck_assert_msg(has_qmp, "the QMP descriptor %d did not reach the child", fds[1]);
    ck_assert(!g_file_test("/tmp/qpin-never", G_FILE_TEST_EXISTS));
    close(stray);
    close(fds[0]);
    close(fds[1]);
    g_unlink(dump);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_spawn_failures_and_status)
{
    GError *error = NULL;
    char *missing[] = {"/nonexistent/qemu-system-x86_64", NULL};
    QpinQemu *q = qpin_qemu_spawn(missing, -1, &error);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(error->code, QPIN_ERROR_QEMU_START);
    ck_assert_msg(strstr(error->message, "No such file"), "%s", error->message);
    g_clear_error(&error);

    /* A directory, and a file without execute permission, both fail with EACCES: the message
     * says which. */
    g_autofree char *bad = g_dir_make_tmp("qpin-exec-XXXXXX", NULL);
    g_autofree char *noexec = g_build_filename(bad, "qemu", NULL);
    ck_assert(g_file_set_contents(noexec, "#!/bin/sh\n", -1, NULL));
    ck_assert_int_eq(g_chmod(noexec, 0644), 0);
    char *dir_argv[] = {bad, NULL};
    ck_assert_ptr_null(qpin_qemu_spawn(dir_argv, -1, &error));
    ck_assert_int_eq(error->code, QPIN_ERROR_QEMU_START);
    ck_assert_msg(strstr(error->message, "is a directory"), "%s", error->message);
    g_clear_error(&error);
    /* Even root cannot execute a file without any execute bit. */
    char *noexec_argv[] = {noexec, NULL};
    ck_assert_ptr_null(qpin_qemu_spawn(noexec_argv, -1, &error));
    ck_assert_msg(strstr(error->message, "not executable"), "%s", error->message);
    g_clear_error(&error);
    g_unlink(noexec);
    g_rmdir(bad);

    const char *stand_in = g_getenv("QPIN_ARGV_DUMP_BIN");
    g_autofree char *dir = g_dir_make_tmp("qpin-argv-XXXXXX", NULL);
    g_autofree char *dump = g_build_filename(dir, "dump", NULL);
    g_setenv("QPIN_ARGV_DUMP", dump, TRUE);
    g_setenv("QPIN_ARGV_DUMP_STATUS", "3", TRUE);
    char *argv[] = {(char *)stand_in, NULL};
    g_autoptr(QpinQemu) child = qpin_qemu_spawn(argv, -1, &error);
    ck_assert_msg(child, "%s", error ? error->message : "?");
    ck_assert(qpin_qemu_reap(child, TRUE));
    ck_assert_int_eq(qpin_wait_status_exit_code(child->status), 3);
    g_autofree char *how = qpin_wait_status_describe(child->status);
    ck_assert_str_eq(how, "exited with status 3");
    g_unlink(dump);
    g_rmdir(dir);

    ck_assert_int_eq(qpin_wait_status_exit_code(SIGKILL), 128 + SIGKILL);
    g_autofree char *killed = qpin_wait_status_describe(SIGKILL);
    ck_assert_msg(g_str_has_prefix(killed, "was killed by signal 9"), "%s", killed);
}
END_TEST

/* No shell, ever: a file the kernel cannot execute is an error, not a /bin/sh fallback; the
 * program is found by qpin's own PATH search. */
START_TEST(test_spawn_no_shell)
{
    GError *error = NULL;
    g_autofree char *dir = g_dir_make_tmp("qpin-noshell-XXXXXX", NULL);
    g_autofree char *marker = g_build_filename(dir, "ran", NULL);
    g_autofree char *script = g_build_filename(dir, "qemu-no-hashbang", NULL);
    g_autofree char *text = g_strdup_printf("touch %s\n", marker);
    ck_assert(g_file_set_contents(script, text, -1, NULL));
    ck_assert_int_eq(g_chmod(script, 0755), 0);
    char *argv[] = {script, NULL};
    ck_assert_ptr_null(qpin_qemu_spawn(argv, -1, &error));
    ck_assert_int_eq(error->code, QPIN_ERROR_QEMU_START);
    ck_assert_msg(strstr(error->message, "not an executable: add a #! line"), "%s", error->message);
    g_clear_error(&error);
    ck_assert(!g_file_test(marker, G_FILE_TEST_EXISTS));

    /* Found through PATH, by name, as execvp would; a name PATH lacks is said so. */
    g_autofree char *old_path = g_strdup(g_getenv("PATH"));
    g_setenv("PATH", dir, TRUE);
    char *by_name[] = {"qemu-no-hashbang", NULL};
    ck_assert_ptr_null(qpin_qemu_spawn(by_name, -1, &error));
    ck_assert_msg(strstr(error->message, "not an executable"), "%s", error->message);
    g_clear_error(&error);
    g_autofree char *found = qpin_program_find("qemu-no-hashbang", NULL);
    ck_assert_str_eq(found, script);
    ck_assert_ptr_null(qpin_program_find("no-such-qemu", &error));
    ck_assert_msg(strstr(error->message, "no such program in PATH"), "%s", error->message);
    g_clear_error(&error);
    g_setenv("PATH", old_path, TRUE);
    ck_assert(!g_file_test(marker, G_FILE_TEST_EXISTS));
    g_unlink(script);
    g_rmdir(dir);
}
END_TEST

/* A QEMU reaped behind qpin's back (ECHILD) has an unknown status, never success. */
START_TEST(test_reap_echild_is_unknown)
{
    GError *error = NULL;
    char *argv[] = {"true", NULL};
    g_autoptr(QpinQemu) child = qpin_qemu_spawn(argv, -1, &error);
    ck_assert_msg(child, "%s", error ? error->message : "?");
    int status;
    ck_assert_int_eq(waitpid(child->pid, &status, 0), child->pid);
    ck_assert(qpin_qemu_reap(child, TRUE));
    ck_assert(!child->status_known);
    ck_assert_int_eq(qpin_qemu_exit_code(child), -1);
    g_autofree char *how = qpin_qemu_describe_exit(child);
    ck_assert_msg(strstr(how, "could not be collected"), "%s", how);
}
END_TEST

/* The supervisor forwards SIGTERM and mirrors the child's status; never waitpid(-1). */
START_TEST(test_supervise_forwards_and_mirrors)
{
    GError *error = NULL;
    int sigfd = qpin_signals_setup(&error);
    ck_assert_int_ge(sigfd, 0);
    /* An unrelated child that must not be reaped by the supervisor. */
    pid_t other = fork();
    if (other == 0) {
        usleep(200000);
        _exit(42);
    }
    char *argv[] = {"sleep", "30", NULL};
    g_autoptr(QpinQemu) child = qpin_qemu_spawn(argv, -1, &error);
    ck_assert_msg(child, "%s", error ? error->message : "?");
    kill(getpid(), SIGTERM); /* blocked: arrives through the signalfd */
    gint64 t0 = g_get_monotonic_time();
    int status = qpin_qemu_supervise(child, sigfd, -1, NULL, NULL, 5000);
    ck_assert_int_eq(status, 128 + SIGTERM);
    ck_assert_int_lt(g_get_monotonic_time() - t0, 4 * G_USEC_PER_SEC);
    int st;
    ck_assert_int_eq(waitpid(other, &st, 0), other);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 42);
    close(sigfd);
}
END_TEST

/* A child that ignores SIGTERM is killed after the timeout. */
START_TEST(test_stop_escalates_to_sigkill)
{
    GError *error = NULL;
    int sigfd = qpin_signals_setup(&error);
    ck_assert_int_ge(sigfd, 0);
    const char *stand_in = g_getenv("QPIN_ARGV_DUMP_BIN");
    g_autofree char *dir = g_dir_make_tmp("qpin-argv-XXXXXX", NULL);
    g_autofree char *dump = g_build_filename(dir, "dump", NULL);
    g_setenv("QPIN_ARGV_DUMP", dump, TRUE);
    g_setenv("QPIN_ARGV_DUMP_IGNORE_TERM", "1", TRUE);
    char *argv[] = {(char *)stand_in, NULL};
    g_autoptr(QpinQemu) child = qpin_qemu_spawn(argv, -1, &error);
    ck_assert_msg(child, "%s", error ? error->message : "?");
    /* The stand-in ignores SIGTERM before it writes the dump. */
    for (int i = 0; i < 500 && !g_file_test(dump, G_FILE_TEST_EXISTS); i++)
        usleep(10000);
    usleep(20000);
    gint64 t0 = g_get_monotonic_time();
    qpin_qemu_stop(child, sigfd, TRUE, 300);
    gint64 took = g_get_monotonic_time() - t0;
    ck_assert(child->reaped);
    ck_assert_int_eq(qpin_wait_status_exit_code(child->status), 128 + SIGKILL);
    ck_assert_int_ge(took, 250000);
    ck_assert_int_lt(took, 3 * G_USEC_PER_SEC);
    g_unsetenv("QPIN_ARGV_DUMP_IGNORE_TERM");
    g_unlink(dump);
    g_rmdir(dir);
    close(sigfd);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("qemu-argv");
    TCase *tc = tcase_create("argv");
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_escape_rejects_line_breaks);
    tcase_add_test(tc, test_name_value);
    tcase_add_test(tc, test_build_adds_and_passes_through);
    tcase_add_test(tc, test_build_merges_name);
    tcase_add_test(tc, test_build_refuses);
    tcase_add_test(tc, test_find);
    tcase_add_test(tc, test_display);
    tcase_add_test(tc, test_option_table);
    tcase_add_test(tc, test_scan);
    tcase_add_test(tc, test_find_skips_values);
    tcase_add_test(tc, test_build_option_values);
    tcase_add_test(tc, test_build_missing_value);
    tcase_add_test(tc, test_mask_secrets);
    tcase_add_test(tc, test_mask_secrets_json);
    suite_add_tcase(s, tc);
    TCase *sp = tcase_create("spawn");
    tcase_set_timeout(sp, 20);
    tcase_add_test(sp, test_exec_receives_exact_argv);
    tcase_add_test(sp, test_spawn_failures_and_status);
    tcase_add_test(sp, test_spawn_no_shell);
    tcase_add_test(sp, test_reap_echild_is_unknown);
    tcase_add_test(sp, test_supervise_forwards_and_mirrors);
    tcase_add_test(sp, test_stop_escalates_to_sigkill);
    suite_add_tcase(s, sp);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
