"""Write the synthetic COCO-format shapes dataset used by the demo configs."""
import argparse

from mmattn.demo import generate_shapes_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('root', nargs='?', default='data/shapes',
                        help='output folder (default: data/shapes)')
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--image-size', type=int, nargs=2, default=(128, 128),
                        metavar=('HEIGHT', 'WIDTH'))
    parser.add_argument('--max-objects', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    files = generate_shapes_dataset(
        args.root, num_train=args.num_train, num_val=args.num_val,
        image_size=args.image_size, max_objects=args.max_objects,
        seed=args.seed)
    for split, ann_file in files.items():
        print(f'{split}: {ann_file}')


if __name__ == '__main__':
    main()
