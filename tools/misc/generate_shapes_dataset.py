"""Write the synthetic COCO-format shapes dataset used by the demo configs."""
import argparse
from typing import Callable

from mmattn.demo import generate_shapes_dataset

#: Shapes smaller than this are not drawn recognisably.
MIN_SHAPE_SIZE = 4


def integer_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(
                f'{text!r} is invalid; it must be an integer >= {minimum}')
        return value

    return parse


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('root', nargs='?', default='data/shapes',
                        help='output folder (default: data/shapes)')
    parser.add_argument('--num-train', type=integer_at_least(1), default=1000,
                        help='training images (default: 1000)')
    parser.add_argument('--num-val', type=integer_at_least(1), default=100,
                        help='validation images (default: 100)')
    parser.add_argument('--image-size', type=integer_at_least(MIN_SHAPE_SIZE),
                        nargs=2, default=(128, 128),
                        metavar=('HEIGHT', 'WIDTH'),
                        help='image size (default: 128 128)')
    parser.add_argument('--size-range', type=integer_at_least(MIN_SHAPE_SIZE),
                        nargs=2, default=(24, 64), metavar=('MIN', 'MAX'),
                        help="a shape's extent in pixels, inclusive "
                        '(default: 24 64)')
    parser.add_argument('--max-objects', type=integer_at_least(1), default=3,
                        help='each image holds 1 to this many shapes '
                        '(default: 3)')
    parser.add_argument('--seed', type=integer_at_least(0), default=0,
                        help='equal seeds give equal files (default: 0)')
    args = parser.parse_args(argv)
    low, high = args.size_range
    if low > high:
        parser.error(f'argument --size-range: {low} {high} is invalid; MIN '
                     'must not exceed MAX')
    if high > min(args.image_size):
        parser.error(
            f'argument --size-range: {low} {high} is invalid; shapes must '
            f'fit in the image, so MAX must not exceed the smaller side of '
            f'--image-size {args.image_size[0]} {args.image_size[1]}')
    return args


def main() -> None:
    args = parse_args()
    files = generate_shapes_dataset(
        args.root, num_train=args.num_train, num_val=args.num_val,
        image_size=args.image_size, max_objects=args.max_objects,
        size_range=args.size_range, seed=args.seed)
    for split, ann_file in files.items():
        print(f'{split}: {ann_file}')


if __name__ == '__main__':
    main()
