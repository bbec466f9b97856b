//! Unit tests of the arguments and graph text `build_args` writes (ffmpeg runs in
//! `tests/render*.rs`).

use super::*;
use crate::media::render::{EncoderSettings, Fill, MusicPlan, Segment, Transition, command_line};

fn segment(source: ClipSource, start_in: f64, duration: f64) -> Segment {
    Segment {
        source,
        start_in,
        duration,
        speed: 1.0,
        transition: Transition::None,
    }
}

fn plan(subtitles: Option<&str>) -> RenderPlan {
    RenderPlan {
        width: 270,
        height: 480,
        fps: 30,
        segments: vec![
            segment(ClipSource::Video("/clips/a.mp4".into()), 1.25, 2.0),
            segment(ClipSource::Image("/clips/b.png".into()), 0.0, 1.5),
            segment(
                ClipSource::Lavfi("color=c=black:s=270x480".into()),
                0.0,
                0.8,
            ),
        ],
        transition_secs: 0.5,
        fill: Fill::Crop,
        narration: "/task/voice.wav".into(),
        music: None,
        loudness_lufs: None,
        subtitles: subtitles.map(PathBuf::from),
        soft_subtitles: None,
        subtitles_fonts_dir: None,
        encoder: EncoderSettings {
            codec: "libx264".into(),
            preset: "veryfast".into(),
            crf: 23,
        },
        out: "/task/final.mp4".into(),
    }
}

fn music(duck: bool) -> MusicPlan {
    MusicPlan {
        path: "/music/calm.mp3".into(),
        volume: 0.25,
        fade_in: 1.0,
        fade_out: 3.0,
        duck,
    }
}

fn joined_args(plan: &RenderPlan) -> String {
    build_args(plan, Path::new("/task/g"))
        .0
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn graph(plan: &RenderPlan) -> String {
    build_args(plan, Path::new("g")).1
}

#[test]
fn inputs_outputs_and_graph() {
    let p = plan(Some("/task/subs.ass"));
    let joined = joined_args(&p);
    let graph = graph(&p);
    // The video window: 2 frames more than its 60 (rounding); plain cuts read no lead-in.
    assert!(
        joined.contains("-stream_loop -1 -ss 1.25 -t 2.066667 -i /clips/a.mp4"),
        "{joined}"
    );
    assert!(joined.contains("-i /clips/b.png -f lavfi -t 0.866667 -i color=c=black:s=270x480"));
    assert!(joined.contains("-i /task/voice.wav -filter_complex_script /task/g"));
    assert!(joined.contains("-map [v] -map [voice] -c:v libx264 -preset veryfast -crf 23"));
    assert!(joined.contains("-pix_fmt yuv420p -r 30 -c:a aac -b:a 160k"));
    assert!(joined.ends_with("-movflags +faststart -t 4.3 -f mp4 /task/final.mp4.part"));
    assert!(!joined.contains("mov_text"));
    assert!(
        graph.starts_with(
            "[0:v]setpts=PTS-STARTPTS,fps=30,crop=w='trunc(min(iw,ih*270/480)/2)*2':\
             h='trunc(min(ih,iw*480/270)/2)*2',scale=270:480,format=yuv420p,setsar=1,settb=1/30,tpad=stop_mode=clone:\
             stop_duration=0.1,trim=end_frame=60,setpts=PTS-STARTPTS[c0];"
        ),
        "{graph}"
    );
    assert!(graph.contains("trim=end_frame=24,setpts=PTS-STARTPTS[c2];"));
    assert!(
        graph.contains("[c0][c1][c2]concat=n=3:v=1:a=0,settb=1/30,setpts=N[joined];"),
        "{graph}"
    );
    assert!(graph.contains("[joined]ass=filename=/task/subs.ass[v];"));
    // 4.3 s at 48 kHz, padded and cut to the sample.
    assert!(graph.ends_with(
        "[3:a]aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:\
         channel_layouts=stereo,apad=whole_len=206400,atrim=end_sample=206400[voice]\n"
    ));
}

#[test]
fn no_subtitles_means_the_join_is_the_output() {
    let graph = graph(&plan(None));
    assert!(graph.contains("concat=n=3:v=1:a=0,settb=1/30,setpts=N[joined];"));
    assert!(!graph.contains("ass="));
    assert!(joined_args(&plan(None)).contains("-map [joined] -map [voice]"));
}

#[test]
fn transitions_chain_with_offsets_at_each_cut_start_minus_its_length() {
    let mut p = plan(None);
    let clip = |t: Transition, duration: f64| Segment {
        transition: t,
        ..segment(ClipSource::Video("/c.mp4".into()), 3.0, duration)
    };
    p.segments = vec![
        clip(Transition::None, 2.0),
        clip(Transition::Fade, 2.0),
        clip(Transition::None, 1.0),
        clip(Transition::SlideUp, 0.6),
        clip(Transition::ZoomOut, 2.0),
    ];
    let graph = graph(&p);
    let joined = joined_args(&p);
    // Fade into the cut at 2.0 s: the last 0.5 s (15 frames) of the first cut blend with the
    // second cut's 15-frame lead-in.
    assert!(
        graph.contains("[t0s]trim=start_frame=45:end_frame=60,setpts=PTS-STARTPTS[t0];"),
        "{graph}"
    );
    assert!(graph.contains("[h1s]trim=start_frame=0:end_frame=15,setpts=PTS-STARTPTS[h1];"));
    assert!(graph.contains("[t0][h1]xfade=transition=fade:duration=0.5:offset=0[x1];"));
    // Half the 0.6 s cut (0.3 s); zoom out is drawn by circleclose, also capped by the 0.6 s
    // cut before it.
    assert!(graph.contains("[t2][h3]xfade=transition=slideup:duration=0.3:offset=0[x3];"));
    assert!(graph.contains("[t3][h4]xfade=transition=circleclose:duration=0.3:offset=0[x4];"));
    // One concat in screen order: body, blend, body, …
    assert!(
        graph.contains(
            "[b0][x1][b1][b2][x3][b3][x4][b4]concat=n=8:v=1:a=0,settb=1/30,setpts=N[joined];"
        ),
        "{graph}"
    );
    assert!(graph.contains("trim=end_frame=75,setpts=PTS-STARTPTS[c1];"));
    // Lead-ins are read before the cut: 3.0 − 0.5 s.
    assert!(joined.contains("-ss 2.5 -t 2.566667 -i /c.mp4"), "{joined}");
    assert!(joined.contains("-t 7.6 -f mp4"), "{joined}");
}

#[test]
fn speed_reads_more_or_less_source_and_retimes_it() {
    let mut p = plan(None);
    p.segments[0].speed = 2.0;
    p.segments[2].speed = 0.5;
    let joined = joined_args(&p);
    let graph = graph(&p);
    assert!(
        joined.contains("-ss 1.25 -t 4.133333 -i /clips/a.mp4"),
        "{joined}"
    );
    assert!(joined.contains("-f lavfi -t 0.433333 -i color"), "{joined}");
    assert!(
        graph.contains("[0:v]setpts=(PTS-STARTPTS)/2,fps=30,"),
        "{graph}"
    );
    assert!(graph.contains("[2:v]setpts=(PTS-STARTPTS)/0.5,fps=30,"));
    // The cut keeps its frames whatever the speed.
    assert!(graph.contains("trim=end_frame=60,setpts=PTS-STARTPTS[c0];"));
}

#[test]
fn blur_fill_overlays_the_fitted_clip_on_a_blurred_cover() {
    let mut p = plan(None);
    p.fill = Fill::Blur;
    let graph = graph(&p);
    assert!(
        graph.contains(
            "[0:v]setpts=PTS-STARTPTS,fps=30,split=2[m0bg][m0fg];\
             [m0bg]scale=66:120:force_original_aspect_ratio=increase,crop=66:120,\
             gblur=sigma=5.5,eq=brightness=-0.08,scale=270:480,setsar=1[m0bgb];\
             [m0fg]scale=270:480:force_original_aspect_ratio=decrease:force_divisible_by=2,\
             setsar=1[m0fgs];\n\
             [m0bgb][m0fgs]overlay=x=(W-w)/2:y=(H-h)/2,format=yuv420p"
        ),
        "{graph}"
    );
    // Stills are filled at twice the size, before their zoom.
    assert!(graph.contains("[1:v]split=2[s1bg][s1fg];[s1bg]scale=134:240:"));
    assert!(!graph.contains("crop=270:480"));
}

#[test]
fn stills_get_a_ken_burns_move_that_alternates() {
    let mut p = plan(None);
    let still = |duration| segment(ClipSource::Image("/s.jpg".into()), 0.0, duration);
    p.segments = vec![still(1.0), still(1.0), still(1.0), still(1.0), still(1.0)];
    let graph = graph(&p);
    let moves: Vec<&str> = graph
        .lines()
        .filter_map(|l| l.split("zoompan=").nth(1))
        .map(|l| l.split(",format").next().unwrap_or_default())
        .collect();
    assert_eq!(
        moves,
        [
            "z='1+0.15*on/29':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2':d=30:s=270x480:fps=30",
            "z='1.15-0.15*on/29':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2':d=30:s=270x480:fps=30",
            "z='1+0.15*on/29':x='(iw-iw/zoom)*on/29':y='(ih-ih/zoom)/2':d=30:s=270x480:fps=30",
            "z='1.15-0.15*on/29':x='(iw-iw/zoom)*(1-on/29)':y='(ih-ih/zoom)/2':d=30:\
             s=270x480:fps=30",
            "z='1+0.15*on/29':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2':d=30:s=270x480:fps=30",
        ]
    );
    assert!(graph.contains(
        "[0:v]crop=w='trunc(min(iw,ih*540/960)/2)*2':h='trunc(min(ih,iw*960/540)/2)*2',\
             scale=540:960,zoompan="
    ));
    // One picture in, the frames come from zoompan: no loop, no tpad.
    let joined = joined_args(&p);
    assert!(joined.starts_with("-y -i /s.jpg -i /s.jpg"), "{joined}");
    assert!(graph.lines().all(|l| !l.contains("tpad")), "{graph}");
}

#[test]
fn music_is_looped_trimmed_faded_and_mixed() {
    let mut p = plan(None);
    p.music = Some(music(false));
    let joined = joined_args(&p);
    let graph = graph(&p);
    assert!(
        joined.contains("-i /task/voice.wav -stream_loop -1 -i /music/calm.mp3 -filter"),
        "{joined}"
    );
    assert!(joined.contains("-map [mix]"));
    assert!(
        graph.contains(
            "[4:a]aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:\
             channel_layouts=stereo,atrim=end_sample=206400,asetpts=PTS-STARTPTS,volume=0.25,\
             afade=t=in:st=0:d=1,afade=t=out:st=1.3:d=3,apad=whole_len=206400,\
             atrim=end_sample=206400[music];"
        ),
        "{graph}"
    );
    assert!(graph.contains(
        "[voice][music]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[mix]"
    ));
    assert!(!graph.contains("sidechaincompress"));
}

#[test]
fn ducked_music_is_compressed_by_the_voice() {
    let mut p = plan(None);
    p.music = Some(music(true));
    let graph = graph(&p);
    assert!(
        graph.contains(
            "[voice]asplit=2[voicemix][voicekey];[music][voicekey]sidechaincompress=\
             threshold=0.02:ratio=10:attack=20:release=300[ducked];[voicemix][ducked]amix=\
             inputs=2:duration=first:dropout_transition=0:normalize=0[mix]"
        ),
        "{graph}"
    );
}

#[test]
fn loudness_is_normalised_last_and_resampled() {
    let mut p = plan(None);
    p.loudness_lufs = Some(-14.0);
    assert!(graph(&p).ends_with(
        "[voice]loudnorm=I=-14:TP=-1.5:LRA=11,aresample=48000,aformat=sample_fmts=fltp:\
         sample_rates=48000:channel_layouts=stereo,apad=whole_len=206400,\
         atrim=end_sample=206400[loud]\n"
    ));
    p.music = Some(music(true));
    let graph = graph(&p);
    assert!(
        graph.contains("[mix]loudnorm=I=-14:TP=-1.5:LRA=11,"),
        "{graph}"
    );
    assert!(joined_args(&p).contains("-map [loud]"));
}

#[test]
fn soft_subtitles_are_a_mov_text_track() {
    let mut p = plan(Some("/task/subs.ass"));
    p.music = Some(music(false));
    p.soft_subtitles = Some("/task/subs.srt".into());
    let joined = joined_args(&p);
    assert!(
        joined.contains(
            "-stream_loop -1 -i /music/calm.mp3 -i /task/subs.srt -filter_complex_script /task/g \
             -map [v] -map [mix] -map 5:s:0 -c:s mov_text -metadata:s:s:0 language=und -c:v"
        ),
        "{joined}"
    );
    p.music = None;
    assert!(joined_args(&p).contains("-map 4:s:0 -c:s mov_text"));
}

#[test]
fn hardware_encoders_get_their_own_flags() {
    let mut p = plan(None);
    p.encoder.codec = "h264_nvenc".into();
    let joined = joined_args(&p);
    assert!(
        joined.contains("-c:v h264_nvenc -preset p2 -rc vbr -cq 23 -b:v 0 -pix_fmt yuv420p -r 30"),
        "{joined}"
    );
    p.encoder.codec = "h264_vaapi".into();
    let (args, graph) = build_args(&p, Path::new("g"));
    let joined = args
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        joined.starts_with("-y -vaapi_device /dev/dri/renderD128 "),
        "{joined}"
    );
    assert!(graph.contains("format=nv12,hwupload[vhw]"), "{graph}");
    assert!(joined.contains("-map [vhw]"), "{joined}");
}

#[test]
fn filter_paths_are_escaped_twice() {
    assert_eq!(escape_filter_path(Path::new("/a/b.ass")), "/a/b.ass");
    assert_eq!(escape_filter_path(Path::new("/a:b")), r"/a\\:b");
    assert_eq!(escape_filter_path(Path::new("/it's")), r"/it\\\'s");
    assert_eq!(escape_filter_path(Path::new("/x[1],y;")), r"/x\[1\]\,y\;");
    assert_eq!(escape_filter_path(Path::new(r"C\d")), r"C\\\\d");
    assert_eq!(
        escape_filter_path(Path::new("/t/50% [it's]: a.ass")),
        r"/t/50% \[it\\\'s\]\\: a.ass"
    );
}

#[test]
fn odd_paths_stay_out_of_the_graph_or_escaped() {
    let mut p = plan(Some("/t/50% [it's]: a.ass"));
    p.segments[0].source = ClipSource::Video("/t/50% [it's]: a.mp4".into());
    p.segments[1].source = ClipSource::Image("/t/shot%03d [1].jpg".into());
    p.narration = "voice: take 2.wav".into();
    let (args, graph) = build_args(&p, Path::new("g"));
    assert!(graph.contains(r"[joined]ass=filename=/t/50% \[it\\\'s\]\\: a.ass[v];"));
    assert!(
        !graph.contains("a.mp4"),
        "input paths are arguments, not graph text"
    );
    assert!(args.contains(&OsString::from("/t/50% [it's]: a.mp4")));
    // A still named like a numbered sequence is read as the one file it is.
    let joined = args
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(joined.contains("-f image2 -pattern_type none -i /t/shot%03d [1].jpg"));
    // Not read as a `voice:` protocol.
    assert!(args.contains(&OsString::from("./voice: take 2.wav")));
}

#[test]
fn validation_rejects_what_the_graph_cannot_draw() {
    assert_eq!(validate(&plan(None)), Ok(()));
    let broken: [fn(&mut RenderPlan); 7] = [
        |p| p.segments[0].speed = 3.0,
        |p| p.segments[1].duration = f64::NAN,
        |p| p.transition_secs = -1.0,
        |p| p.loudness_lufs = Some(0.0),
        |p| {
            p.music = Some(MusicPlan {
                volume: 1.5,
                ..music(true)
            })
        },
        |p| {
            p.music = Some(MusicPlan {
                fade_out: f64::INFINITY,
                ..music(true)
            })
        },
        |p| {
            p.segments.truncate(1);
            p.segments[0].duration = 0.01;
        },
    ];
    for (i, breaks) in broken.iter().enumerate() {
        let mut p = plan(None);
        breaks(&mut p);
        assert!(validate(&p).is_err(), "case {i}");
    }
}

#[test]
fn graph_file_and_command_line() {
    let out = Path::new("/t/final.mp4");
    assert_eq!(graph_path(out), Path::new("/t/final.mp4.filtergraph"));
    let line = command_line(&["-i".into(), "/a b/it's.mp4".into()]);
    assert_eq!(line, r"ffmpeg -i '/a b/it'\''s.mp4'");
}
