/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes a 64 KiB x86 firmware image whose reset vector does `out 0xf4, al` with al = 0 and
 * halts. With `-device isa-debug-exit,iobase=0xf4,iosize=0x04` QEMU then exits with status 1
 * ((0 << 1) | 1) right after the guest starts: a real guest that runs its first instructions and
 * shuts itself down, in milliseconds, under KVM or TCG, without a kernel.
 *
 *   mk-exit-firmware OUTPUT
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    static unsigned char image[65536];
    /* mov al, 0; out 0xf4, al; hlt; jmp $-1 — at the reset vector, 16 bytes below the top. */
    static const unsigned char reset[] = {0xB0, 0x00, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD};

    if (argc != 2) {
        fprintf(stderr, "usage: mk-exit-firmware OUTPUT\n");
        return 2;
    }
    memset(image, 0xF4, sizeof(image)); /* hlt everywhere else */
    memcpy(image + sizeof(image) - 16, reset, sizeof(reset));
    FILE *out = fopen(argv[1], "wb");
    if (!out || fwrite(image, 1, sizeof(image), out) != sizeof(image) || fclose(out) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
