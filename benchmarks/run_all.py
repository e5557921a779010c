"""`make bench` (python -m benchmarks.run_all): every benchmark, printing its figures."""

from __future__ import annotations

from benchmarks import (
    dlms_client,
    dlms_cpu_vs_gurux,
    dlms_hls_setup,
    dlms_profile,
    dlms_server,
    firmware_hdlc_pty,
    firmware_transfer,
    hdlc_pty_profile,
    hdlc_server,
    meter_day_waveforms,
    meter_year,
    power_quality,
    profile_store,
    restart,
    sms_parse,
    sts_tokens,
    wmbus_decode,
)

if __name__ == "__main__":
    for bench in (
        meter_year,
        restart,
        sts_tokens,
        sms_parse,
        wmbus_decode,
        dlms_server,
        hdlc_pty_profile,
        hdlc_server,
        dlms_client,
        dlms_profile,
        dlms_cpu_vs_gurux,
        dlms_hls_setup,
        profile_store,
        power_quality,
        meter_day_waveforms,
        firmware_transfer,
        firmware_hdlc_pty,  # about 5 minutes: 256 KiB at 9600 baud
    ):
        bench.main()
        print()
