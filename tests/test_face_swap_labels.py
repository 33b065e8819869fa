import numpy as np

from scripts import face_swap_labels


def test_each_photo_takes_a_face_of_its_own_kind_never_its_own():
    names = [
        "30_0_1_a.jpg",  # man, ethnicity 1, 30
        "35_0_1_b.jpg",  # man, ethnicity 1, 35: the only close match of the first
        "70_0_1_c.jpg",  # man, ethnicity 1, 70: no one within 10 years, so another man
        "30_1_2_d.jpg",  # the only woman: anyone else
        "badly_named.jpg",  # traits unknown: anyone else
    ]
    for seed in range(20):
        sources = face_swap_labels.choose_sources(names, np.random.default_rng(seed))
        assert sources[0] == 1 and sources[1] == 0
        assert sources[2] in (0, 1)
        assert all(source != index for index, source in enumerate(sources))


def test_traits_are_read_from_utkface_file_names():
    assert face_swap_labels._traits("26_1_3_20170119180652543.jpg") == (26, "1", "3")
    assert face_swap_labels._traits("61_1_20170109142408075.jpg") is None


def test_a_dfdc_face_takes_a_face_from_another_video():
    groups = ["a.mp4", "a.mp4", "b.mp4", "c.mp4"]
    for seed in range(20):
        sources = face_swap_labels.choose_other_group(groups, np.random.default_rng(seed))
        assert all(groups[source] != groups[index] for index, source in enumerate(sources))


def test_each_set_of_people_has_its_description_and_card_key():
    assert set(face_swap_labels.DESCRIPTIONS) == set(face_swap_labels.RECORD_KEYS) == {"utkface", "dfdc"}
    assert face_swap_labels.DESCRIPTIONS["utkface"] == face_swap_labels.DESCRIPTION
    assert "DFDC validation split" in face_swap_labels.DESCRIPTIONS["dfdc"]
